"""The outbox relay: publish the events their writers left behind (a crash, an EventBridge outage).

Each row is handled on its own, so one bad row never holds back the others: a row EventBridge
refuses, or that cannot be marked published, is counted and tried again next run (consumers
deduplicate on the event id); a row that cannot be read as an event is quarantined, with an
`alert.event_quarantined` event, and leaves the relay's index for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError
from pynamodb.transactions import TransactWrite

from shared.events import models
from shared.events.data.alerts import EventQuarantinedData
from shared.events.envelope import new_event
from shared.events.publisher import put_events
from shared.events.transactions import commit_with_events
from shared.observability import MetricUnit, logger, metrics

SOURCE = "cryptoorchestrator.events"


@dataclass
class RelayReport:
    published: int = 0
    failed: int = 0  # refused by EventBridge or not marked published: tried again next run
    quarantined: int = 0


def _quarantine(record: models.EventRecord, problem: str) -> None:
    alert = new_event(
        "alert.event_quarantined",
        tenant_id=record.tenant_id,
        source=SOURCE,
        data=EventQuarantinedData(event_id=record.event_id, event_type=record.type, problem=problem),
    )

    def stage(tx: TransactWrite) -> None:
        models.stage_quarantine(tx, record, problem)

    commit_with_events(stage, [alert])
    logger.error("outbox row quarantined", extra={"event_id": record.event_id, "problem": problem})


def _relay_one(record: models.EventRecord, report: RelayReport) -> None:
    try:
        event = record.to_event()
    except (ValidationError, ValueError) as exc:
        _quarantine(record, f"unreadable envelope ({type(exc).__name__})")
        report.quarantined += 1
        return
    try:
        put_events([event])
        models.mark_published([event])
    except Exception as exc:  # isolate the row: count it and move on; it stays in the index
        logger.warning(
            "outbox row not relayed; next run", extra={"event_id": record.event_id, "error": type(exc).__name__}
        )
        report.failed += 1
        _count_attempt(record)
        return
    report.published += 1


def _count_attempt(record: models.EventRecord) -> None:
    try:
        models.increment_attempts(record)
    except Exception as exc:  # only a counter: never let it stop the relay
        logger.warning(
            "could not count a relay attempt", extra={"event_id": record.event_id, "error": type(exc).__name__}
        )


def relay_unpublished(older_than: timedelta = timedelta(seconds=30), limit: int = 500) -> RelayReport:
    """Publish outbox rows that their writer did not, oldest first, each row isolated."""
    report = RelayReport()
    for record in models.unpublished_events(older_than, limit):
        try:
            _relay_one(record, report)
        except Exception:  # e.g. the quarantine write itself failed: next run tries again
            logger.exception("outbox row could not be handled", extra={"event_id": record.event_id})
            report.failed += 1
    if report.published:
        metrics.add_metric(name="EventsRelayed", unit=MetricUnit.Count, value=report.published)
    if report.failed:
        metrics.add_metric(name="EventsRelayFailed", unit=MetricUnit.Count, value=report.failed)
    if report.quarantined:
        metrics.add_metric(name="EventsQuarantined", unit=MetricUnit.Count, value=report.quarantined)
    return report
