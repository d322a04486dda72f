"""The one event publisher: EventBridge PutEvents, checking FailedEntryCount entry by entry.

Events are at-least-once: a row is marked published only after EventBridge accepted it, and the
relay re-sends anything left behind. Consumers deduplicate on the envelope's `id`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws_clients import aws_client
from shared.config import get_settings
from shared.errors import EventPublishError
from shared.events.envelope import DomainEvent
from shared.events.models import mark_published
from shared.observability import MetricUnit, logger, metrics

MAX_BATCH = 10
ATTEMPTS = 3


def _client() -> Any:
    return aws_client("events")


def _entry(event: DomainEvent) -> dict[str, Any]:
    settings = get_settings()
    return {
        "Source": settings.event_source,
        "DetailType": event.type,
        "Detail": event.model_dump_json(),
        "EventBusName": settings.event_bus_name,
    }


def put_events(events: Sequence[DomainEvent]) -> None:
    """Send events to the bus, re-sending only the entries EventBridge reports as failed."""
    pending = list(events)
    for attempt in range(ATTEMPTS):
        failed: list[DomainEvent] = []
        for start in range(0, len(pending), MAX_BATCH):
            batch = pending[start : start + MAX_BATCH]
            try:
                response = _client().put_events(Entries=[_entry(e) for e in batch])
            except (BotoCoreError, ClientError) as exc:
                logger.warning("PutEvents call failed", extra={"error": type(exc).__name__})
                failed.extend(batch)
                continue
            if response.get("FailedEntryCount", 0):
                for event, result in zip(batch, response["Entries"], strict=True):
                    if result.get("ErrorCode"):
                        failed.append(event)
        if not failed:
            return
        pending = failed
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.05 * 2**attempt)
    metrics.add_metric(name="EventsPublishFailed", unit=MetricUnit.Count, value=len(pending))
    raise EventPublishError(f"{len(pending)} event(s) not accepted by EventBridge")


def publish_recorded(events: Sequence[DomainEvent]) -> bool:
    """Publish events already saved in the outbox; on failure leave them for the relay.

    Returns whether everything was published. Never raises: the change they describe has
    committed, and the outbox guarantees delivery.
    """
    if not events:
        return True
    try:
        put_events(events)
    except EventPublishError:
        logger.warning("events left in the outbox for the relay", extra={"count": len(events)})
        return False
    try:
        mark_published(events)
    except Exception:  # a stale outbox row only means a duplicate delivery later
        logger.warning("could not mark events published", extra={"event_ids": [event.id for event in events]})
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(events))
    return True
