"""The domain event envelope: `{id, type, version, tenant_id, occurred_at, source, data}`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.clock import isoformat, utc_now
from shared.events.catalog import EVENT_TYPES, data_schema
from shared.ids import new_id


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    version: int = 1
    tenant_id: str
    occurred_at: str
    source: str
    data: dict[str, Any]


def new_event(event_type: str, *, tenant_id: str, source: str, data: BaseModel) -> DomainEvent:
    """Build an event whose `data` has been checked against the catalog's schema for its type."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    checked = data_schema(event_type).model_validate(data.model_dump())
    return DomainEvent(
        id=new_id("evt"),
        type=event_type,
        tenant_id=tenant_id,
        occurred_at=isoformat(utc_now()),
        source=source,
        data=checked.model_dump(mode="json"),
    )
