"""The Events table: every domain event is written here in the same transaction as the change
that caused it, then published. Rows not yet published carry `publish_shard`, which puts them in
the sparse `unpublished` index the relay sweeps, so an event survives a crash or an EventBridge
outage between the write and the publish. The history API's reads are in shared.events.history."""

from __future__ import annotations

import zlib
from datetime import timedelta

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.clock import utc_now
from shared.config import get_settings
from shared.events.envelope import DomainEvent
from shared.ids import new_ulid
from shared.persistence import BaseMeta

PUBLISH_SHARDS = 4


class UnpublishedIndex(GlobalSecondaryIndex["EventRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "unpublished"
        projection = AllProjection()

    publish_shard = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


class EventRecord(Model):
    class Meta(BaseMeta):
        table_setting = "events_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    envelope = UnicodeAttribute()
    publish_shard = UnicodeAttribute(null=True)
    publish_attempts = NumberAttribute(default=0)
    quarantined = UnicodeAttribute(null=True)  # why the relay set this row aside (unreadable)
    expires_at = TTLAttribute()

    unpublished = UnpublishedIndex()

    def to_event(self) -> DomainEvent:
        return DomainEvent.model_validate_json(self.envelope)


def shard_for(event_id: str) -> str:
    return f"pending-{zlib.crc32(event_id.encode()) % PUBLISH_SHARDS}"


def record_for(event: DomainEvent) -> EventRecord:
    """The outbox row for an event; save it in the same TransactWrite as the change."""
    retention = timedelta(days=get_settings().events_retention_days)
    return EventRecord(
        tenant_id=event.tenant_id,
        event_id=event.id,
        type=event.type,
        envelope=event.model_dump_json(),
        publish_shard=shard_for(event.id),
        expires_at=utc_now() + retention,
    )


def mark_published(event: DomainEvent) -> None:
    """Drop the row from the unpublished index (one UpdateItem)."""
    EventRecord(tenant_id=event.tenant_id, event_id=event.id).update(
        actions=[EventRecord.publish_shard.remove()],
        condition=EventRecord.event_id.exists(),
    )


def unpublished_events(older_than: timedelta, limit: int = 500) -> list[EventRecord]:
    """Rows still waiting to be published, oldest first across all shards (event ids are
    time-ordered), skipping the very recent ones their writer is probably publishing right now."""
    cutoff_ms = int((utc_now() - older_than).timestamp() * 1000)
    cutoff = "evt_" + new_ulid(cutoff_ms)[:10]
    rows: list[EventRecord] = []
    for shard in range(PUBLISH_SHARDS):
        rows.extend(EventRecord.unpublished.query(f"pending-{shard}", EventRecord.event_id < cutoff, limit=limit))
    return sorted(rows, key=lambda row: row.event_id)[:limit]


def increment_attempts(record: EventRecord) -> None:
    record.update(actions=[EventRecord.publish_attempts.add(1)])


def stage_quarantine(tx: TransactWrite, record: EventRecord, problem: str) -> None:
    """Take an unreadable row out of the relay's index, keeping it (and why) for an operator."""
    tx.update(
        record,
        actions=[EventRecord.publish_shard.remove(), EventRecord.quarantined.set(problem)],
        condition=EventRecord.publish_shard.exists(),
    )
