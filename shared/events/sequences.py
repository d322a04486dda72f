"""Per-aggregate event sequences: each aggregate (an order, a bot, a subscription, ...) has a
counter row in the Events table (`seq#<type>#<id>`, beside the events, outside the `evt_` range
every reader queries). A commit reads the counters of the aggregates its events belong to,
numbers the events from there, and writes the counters back in the same transaction, on the
condition that they still hold what was read. Two concurrent commits for one aggregate cannot
both pass: the loser is re-read and renumbered (see `commit_with_events`), so numbers follow the
commit order, with no gaps and no repeats.

A row that is itself version-checked in every commit of its aggregate (an order) can carry its
aggregate's last sequence: the commit is then given it as `known` and skips the counter read. The
counter is still written on the condition that it holds that number, so a stale hint costs one
failed transaction and a re-read, never a wrong number.

Counter rows have no TTL: a sequence must never restart while consumers remember its aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pynamodb.transactions import TransactWrite

from shared.events.envelope import Aggregate, DomainEvent
from shared.events.models import CounterKey, read_sequence_counters, stage_sequence_counter

COUNTER_PREFIX = "seq#"


def counter_key(aggregate: Aggregate) -> str:
    return _row_key(aggregate.type, aggregate.id)


def counter_of(tenant_id: str, aggregate_type: str, aggregate_id: str) -> CounterKey:
    """The counter of one aggregate, as `commit_with_events` names it in known/carried sequences."""
    return tenant_id, _row_key(aggregate_type, aggregate_id)


def _row_key(aggregate_type: str, aggregate_id: str) -> str:
    return f"{COUNTER_PREFIX}{aggregate_type}#{aggregate_id}"


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
            stage_sequence_counter(tx, tenant_id, key, before=self.read[(tenant_id, key)], last=last)

    def moved_counters(self) -> int:
        """How many of these counters another commit moved since they were read (a failed
        transaction failed, at least also, on each of them)."""
        now = read_sequence_counters(list(self.read))
        return sum(1 for key, value in self.read.items() if now[key] != value)


def claim(events: Sequence[DomainEvent], known: Mapping[CounterKey, int] | None = None) -> SequenceClaim:
    """Number `events` per aggregate, in list order, after each aggregate's last sequence.
    Events without an aggregate (older envelopes) keep a null sequence. Counters given in `known`
    are taken as they are instead of read (the commit's condition checks them)."""
    keys = list(dict.fromkeys((e.tenant_id, counter_key(e.aggregate)) for e in events if e.aggregate is not None))
    hinted = {key: known[key] for key in keys if known is not None and key in known}
    unknown = [key for key in keys if key not in hinted]
    read = {**hinted, **(read_sequence_counters(unknown) if unknown else {})}
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
