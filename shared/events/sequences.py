"""Per-aggregate event sequences: each aggregate (an order, a bot, a subscription, ...) has a
counter row in the Events table (`seq#<type>#<id>`, beside the events, outside the `evt_` range
every reader queries). A commit reads the counters of the aggregates its events belong to,
numbers the events from there, and writes the counters back in the same transaction, on the
condition that they still hold what was read. Two concurrent commits for one aggregate cannot
both pass: the loser is re-read and renumbered (see `commit_with_events`), so numbers follow the
commit order, with no gaps and no repeats.

Counter rows have no TTL: a sequence must never restart while consumers remember its aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.events.envelope import Aggregate, DomainEvent
from shared.persistence import BaseMeta, get_or_none

COUNTER_PREFIX = "seq#"

type CounterKey = tuple[str, str]  # (tenant_id, counter row key)


class SequenceCounterRecord(Model):
    class Meta(BaseMeta):
        table_setting = "events_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)  # `seq#<aggregate type>#<aggregate id>`
    last_sequence = NumberAttribute()


def counter_key(aggregate: Aggregate) -> str:
    return f"{COUNTER_PREFIX}{aggregate.type}#{aggregate.id}"


def read_counters(keys: Sequence[CounterKey]) -> dict[CounterKey, int]:
    """The last sequence of each aggregate (0 if it has none yet): one strongly consistent GetItem
    each (a commit nearly always touches one aggregate; no BatchGetItem permission needed)."""
    found: dict[CounterKey, int] = {}
    for key in keys:
        row = get_or_none(SequenceCounterRecord, *key)
        found[key] = 0 if row is None else int(row.last_sequence)
    return found


@dataclass(frozen=True)
class SequenceClaim:
    """Events numbered from the counters as read, and the counter writes that make it true."""

    events: list[DomainEvent]
    read: dict[CounterKey, int]
    last: dict[CounterKey, int]

    def stage(self, tx: TransactWrite) -> None:
        """Move each counter from what was read to the last number used, only if it still holds
        what was read (or, for a first event, does not exist yet)."""
        for (tenant_id, key), last in self.last.items():
            before = self.read[(tenant_id, key)]
            row = SequenceCounterRecord(tenant_id=tenant_id, event_id=key, last_sequence=last)
            if before == 0:
                tx.save(row, condition=SequenceCounterRecord.event_id.does_not_exist())
            else:
                tx.update(
                    row,
                    actions=[SequenceCounterRecord.last_sequence.set(last)],
                    condition=SequenceCounterRecord.last_sequence == before,
                )

    def overtaken(self) -> bool:
        """Whether another commit moved one of these counters since they were read (so a failed
        transaction failed, at least also, on them and is worth renumbering and retrying)."""
        return read_counters(list(self.read)) != self.read


def claim(events: Sequence[DomainEvent]) -> SequenceClaim:
    """Number `events` per aggregate, in list order, after each aggregate's last sequence.
    Events without an aggregate (older envelopes) keep a null sequence."""
    keys = list(dict.fromkeys((e.tenant_id, counter_key(e.aggregate)) for e in events if e.aggregate is not None))
    read = read_counters(keys) if keys else {}
    last = dict(read)
    numbered: list[DomainEvent] = []
    for event in events:
        if event.aggregate is None:
            numbered.append(event)
            continue
        key = (event.tenant_id, counter_key(event.aggregate))
        last[key] += 1
        numbered.append(event.model_copy(update={"sequence": last[key]}))
    return SequenceClaim(events=numbered, read=read, last=last)
