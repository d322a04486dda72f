"""What /v1/events serves: the catalog of event types (with the JSON Schema of each `data`) and
a tenant's recent events, a page at a time."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from shared.auth.principal import Principal
from shared.errors import ValidationFailed
from shared.events.catalog import EVENT_TYPES, event_version
from shared.events.history import EventQuery, recent_events
from shared.pagination import decode_cursor, encode_cursor
from shared.webhooks.schemas import EventList, EventTypeList, EventTypeOut

CURSOR_KIND = "events"


@lru_cache(maxsize=1)
def event_types() -> EventTypeList:
    """Built on the first request, not at import: schema generation walks every model."""
    return EventTypeList(
        items=[
            EventTypeOut(
                type=name,
                version=event_version(name),
                description=event_type.summary,
                data_schema=event_type.model().model_json_schema(),
            )
            for name, event_type in EVENT_TYPES.items()
        ]
    )


def list_events(
    caller: Principal,
    *,
    limit: int,
    cursor: str | None,
    type_prefix: str | None,
    since: datetime | None,
    until: datetime | None,
) -> EventList:
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("since must be before until", code="invalid_time_range")
    before = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    query = EventQuery(type_prefix=type_prefix, since=since, until=until)
    events, more = recent_events(caller.tenant_id, query, limit=limit, before_id=before)
    next_cursor = encode_cursor(CURSOR_KIND, events[-1].id) if more and events else None
    return EventList(items=events, next_cursor=next_cursor)
