"""The domain event envelope: `{id, type, version, tenant_id, occurred_at, source, data}`, plus
`aggregate` ({type, id}: the thing the event is about) and `sequence` (its position among that
aggregate's events, 1, 2, 3, ... assigned when the event is committed; see sequences.py).

Both additions are optional with a null default, so envelopes written before them (outbox rows,
queued deliveries, replays) still parse, and consumers that ignore unknown fields are unaffected.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.clock import isoformat, utc_now
from shared.events.catalog import EVENT_TYPES, aggregate_of, data_schema
from shared.ids import new_id


class Aggregate(BaseModel):
    """What an event is about (`order`/`ord_...`): its events are numbered in one sequence."""

    model_config = ConfigDict(frozen=True)

    type: str
    id: str


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    version: int = 1
    tenant_id: str
    occurred_at: str
    source: str
    data: dict[str, Any]
    aggregate: Aggregate | None = None
    sequence: int | None = None  # null only for events never committed (webhook.ping) or older ones


def new_event(event_type: str, *, tenant_id: str, source: str, data: BaseModel) -> DomainEvent:
    """Build an event whose `data` has been checked against the catalog's schema for its type.
    Its `sequence` is assigned later, by `commit_with_events`, in the transaction that records it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    checked = data_schema(event_type).model_validate(data.model_dump()).model_dump(mode="json")
    aggregate_type, aggregate_id = aggregate_of(event_type, checked, tenant_id)
    return DomainEvent(
        id=new_id("evt"),
        type=event_type,
        tenant_id=tenant_id,
        occurred_at=isoformat(utc_now()),
        source=source,
        data=checked,
        aggregate=Aggregate(type=aggregate_type, id=aggregate_id),
    )
