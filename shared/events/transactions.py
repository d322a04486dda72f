"""Commit a state change and its domain events atomically, then publish the events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.events import sequences
from shared.events.envelope import DomainEvent
from shared.events.models import CounterKey, EventRecord, record_for
from shared.events.publisher import publish_recorded
from shared.persistence import condition_failed, connection

# A commit renumbers and retries when a concurrent commit for one of its aggregates won the
# counter; this bounds the retries under heavy contention on one aggregate.
SEQUENCE_ATTEMPTS = 8


def commit_with_events(
    stage: Callable[[TransactWrite], None],
    events: Sequence[DomainEvent],
    *,
    known_sequences: Mapping[CounterKey, int] | None = None,
    carry_sequences: Callable[[Mapping[CounterKey, int]], None] | None = None,
) -> list[DomainEvent]:
    """One TransactWrite holding the caller's writes, each event's aggregate sequence counter,
    and one outbox row per event. Returns the events as committed (numbered: `sequence` set).

    `stage` may be called more than once: when only a sequence counter moved underneath (another
    commit for the same aggregate), the events are renumbered and the transaction is retried.
    Raises pynamodb's TransactWriteError when one of the caller's own conditions fails (see
    shared.persistence.condition_failed).

    `known_sequences` are counters a row of the caller carries (see shared.events.sequences),
    used on the first attempt instead of reading them; `carry_sequences` is told each aggregate's
    last number before `stage` runs, so the caller's row can carry it into the same transaction.
    """
    for attempt in range(1, SEQUENCE_ATTEMPTS + 1):
        numbered = sequences.claim(events, known_sequences if attempt == 1 else None)
        if carry_sequences is not None:
            carry_sequences(numbered.last)
        try:
            with TransactWrite(connection=connection()) as tx:
                stage(tx)
                numbered.stage(tx)
                for event in numbered.events:
                    tx.save(record_for(event), condition=EventRecord.event_id.does_not_exist())
        except TransactWriteError as exc:
            if attempt < SEQUENCE_ATTEMPTS and _worth_retrying(exc, numbered):
                continue
            raise
        publish_recorded(numbered.events)
        return numbered.events
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _worth_retrying(exc: TransactWriteError, numbered: sequences.SequenceClaim) -> bool:
    """Counters moved underneath and they alone failed (renumber), or DynamoDB cancelled the
    transaction only for a conflict with another one in flight on the same item (a shared counter
    makes that likelier; nothing was written, so trying again is safe). When more conditions
    failed than counters moved, one of the caller's own failed too: retrying cannot help."""
    if condition_failed(exc):
        if not numbered.read:
            return False
        failed = sum(1 for r in exc.cancellation_reasons if r is not None and r.code == "ConditionalCheckFailed")
        moved = numbered.moved_counters()
        return moved > 0 and failed <= moved
    return any(reason is not None and reason.code == "TransactionConflict" for reason in exc.cancellation_reasons)


def record_events(events: Sequence[DomainEvent]) -> list[DomainEvent]:
    """Events that accompany no write of ours (operator alerts about something observed): their
    outbox rows alone, in one transaction, then published. A change of state never uses this: it
    commits its writes and its events together through `commit_with_events`."""
    return commit_with_events(lambda _tx: None, events)
