"""A tenant's recent domain events, read back from the Events table (the outbox rows, kept for
`events_retention_days` by TTL): the history API and webhook replay read it here.

Event ids are `evt_` + a ULID whose first 10 characters encode the millisecond, so a time range
is a sort-key range and the newest come first from one Query, without an index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from shared.events.envelope import DomainEvent
from shared.events.models import EventRecord, get_event_row, tenant_event_rows
from shared.ids import new_ulid

ID_PREFIX = "evt_"
_LOWEST = ID_PREFIX
_HIGHEST = ID_PREFIX + "~"  # "~" sorts after every ULID character


def id_bound(moment: datetime) -> str:
    """The smallest event id that can be minted at `moment` (a 14-character prefix: every id of
    that millisecond is longer, so it sorts after)."""
    return ID_PREFIX + new_ulid(int(moment.timestamp() * 1000))[:10]


@dataclass(frozen=True)
class EventQuery:
    """What to list: a type prefix (`order.` or `order.filled`) and a half-open time range."""

    type_prefix: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _range(query: EventQuery, before_id: str | None) -> tuple[str, str]:
    lower = id_bound(query.since) if query.since else _LOWEST
    upper = id_bound(query.until) if query.until else _HIGHEST
    if before_id is not None and before_id < upper:
        upper = before_id  # `between` is inclusive: the caller drops this id itself
    return lower, upper


def _readable(records: Iterator[EventRecord]) -> Iterator[DomainEvent]:
    for record in records:
        try:
            yield record.to_event()
        except (ValidationError, ValueError):
            continue  # an unreadable (quarantined) row is the relay's business, not the reader's


def recent_events(
    tenant_id: str, query: EventQuery, *, limit: int, before_id: str | None = None
) -> tuple[list[DomainEvent], bool]:
    """Newest first: up to `limit` events older than `before_id` (a cursor), and whether more exist."""
    lower, upper = _range(query, before_id)
    if lower > upper:
        return [], False
    rows = tenant_event_rows(tenant_id, lower, upper, type_prefix=query.type_prefix, newest_first=True, limit=limit + 2)
    events = [e for e in _readable(rows) if e.id != before_id]
    return events[:limit], len(events) > limit


def events_in_range(tenant_id: str, query: EventQuery, *, limit: int) -> list[DomainEvent]:
    """Oldest first, at most `limit` (replay re-sends in the order events happened)."""
    lower, upper = _range(query, None)
    rows = tenant_event_rows(tenant_id, lower, upper, type_prefix=query.type_prefix, newest_first=False, limit=limit)
    return list(_readable(rows))


def get_event(tenant_id: str, event_id: str) -> DomainEvent | None:
    record = get_event_row(tenant_id, event_id)
    if record is None:
        return None
    try:
        return record.to_event()
    except (ValidationError, ValueError):
        return None
