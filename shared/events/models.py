"""The Events table: every domain event is written here in the same transaction as the change
that caused it, then published. Rows not yet published carry `publish_shard`, which puts them in
the sparse `unpublished` index the relay sweeps, so an event survives a crash or an EventBridge
outage between the write and the publish. The history API's reads are in shared.events.history."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from datetime import timedelta

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.clock import utc_now
from shared.config import get_settings
from shared.events.envelope import DomainEvent
from shared.ids import new_ulid
from shared.persistence import BaseMeta, connection, get_or_none

PUBLISH_SHARDS = 4
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems


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


def mark_published(events: Sequence[DomainEvent]) -> None:
    """Drop the rows from the unpublished index: one UpdateItem for one event, one transaction of
    updates for several (the events of one commit: one round trip instead of one each)."""
    if len(events) == 1:
        _unpublished_row(events[0]).update(
            actions=[EventRecord.publish_shard.remove()], condition=EventRecord.event_id.exists()
        )
        return
    for start in range(0, len(events), MAX_TRANSACTION_ITEMS):
        with TransactWrite(connection=connection()) as tx:
            for event in events[start : start + MAX_TRANSACTION_ITEMS]:
                tx.update(
                    _unpublished_row(event),
                    actions=[EventRecord.publish_shard.remove()],
                    condition=EventRecord.event_id.exists(),
                )


def _unpublished_row(event: DomainEvent) -> EventRecord:
    return EventRecord(tenant_id=event.tenant_id, event_id=event.id)


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


def tenant_event_rows(
    tenant_id: str, lower_id: str, upper_id: str, *, type_prefix: str | None, newest_first: bool, limit: int
) -> Iterator[EventRecord]:
    """A tenant's rows with ids in [lower_id, upper_id] (ids sort by time), quarantined ones left
    out, of one type prefix if given: one consistent Query (the history API and webhook replay)."""
    condition = EventRecord.quarantined.does_not_exist()
    if type_prefix:
        condition &= EventRecord.type.startswith(type_prefix)
    return EventRecord.query(
        tenant_id,
        EventRecord.event_id.between(lower_id, upper_id),
        filter_condition=condition,
        scan_index_forward=not newest_first,
        limit=limit,
        consistent_read=True,
    )


def get_event_row(tenant_id: str, event_id: str) -> EventRecord | None:
    return get_or_none(EventRecord, tenant_id, event_id)


# Per-aggregate sequence counters (shared/events/sequences.py): rows beside the events, keyed
# `seq#<aggregate type>#<aggregate id>`, outside the `evt_` range every reader queries.
type CounterKey = tuple[str, str]  # (tenant_id, counter row key)


class SequenceCounterRecord(Model):
    class Meta(BaseMeta):
        table_setting = "events_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)  # `seq#<aggregate type>#<aggregate id>`
    last_sequence = NumberAttribute()


def read_sequence_counters(keys: Sequence[CounterKey]) -> dict[CounterKey, int]:
    """The last sequence of each aggregate (0 if it has none yet): one strongly consistent GetItem
    each (a commit nearly always touches one aggregate; no BatchGetItem permission needed)."""
    found: dict[CounterKey, int] = {}
    for key in keys:
        row = get_or_none(SequenceCounterRecord, *key)
        found[key] = 0 if row is None else int(row.last_sequence)
    return found


def stage_sequence_counter(tx: TransactWrite, tenant_id: str, key: str, *, before: int, last: int) -> None:
    """Move a counter from `before` (0: it does not exist yet) to `last`, only if it still holds `before`."""
    row = SequenceCounterRecord(tenant_id=tenant_id, event_id=key, last_sequence=last)
    if before == 0:
        tx.save(row, condition=SequenceCounterRecord.event_id.does_not_exist())
    else:
        tx.update(
            row,
            actions=[SequenceCounterRecord.last_sequence.set(last)],
            condition=SequenceCounterRecord.last_sequence == before,
        )
