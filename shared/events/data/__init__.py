"""The pydantic models of each event type's `data`, one module per domain that raises them.

Split so a function builds only the models of the events it publishes (each model costs its
build at import); `shared.events.catalog` names the model of every type and resolves it on demand.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Base of every event's `data`: no unknown fields, immutable once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)
