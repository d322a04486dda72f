"""Commit a state change and its domain events atomically, then publish the events."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pynamodb.transactions import TransactWrite

from shared.events.envelope import DomainEvent
from shared.events.models import EventRecord, record_for
from shared.events.publisher import publish_recorded
from shared.persistence import connection


def commit_with_events(stage: Callable[[TransactWrite], None], events: Sequence[DomainEvent]) -> None:
    """One TransactWrite holding the caller's writes and one outbox row per event.

    Raises pynamodb's TransactWriteError when a condition fails (see
    shared.persistence.condition_failed).
    """
    with TransactWrite(connection=connection()) as tx:
        stage(tx)
        for event in events:
            tx.save(record_for(event), condition=EventRecord.event_id.does_not_exist())
    publish_recorded(events)


def record_events(events: Sequence[DomainEvent]) -> None:
    """Events that accompany no write of ours (operator alerts about something observed): their
    outbox rows alone, in one transaction, then published. A change of state never uses this: it
    commits its writes and its events together through `commit_with_events`."""
    commit_with_events(lambda _tx: None, events)
