"""Per-aggregate sequences, assigned in the transaction that records the events: consecutive
within one commit, continuing across commits, never repeated under concurrent commits, and not
consumed by a commit that fails on the caller's own condition."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.events import sequences
from shared.events.envelope import DomainEvent
from shared.events.history import get_event
from shared.events.models import CounterKey, SequenceCounterRecord, read_sequence_counters
from shared.events.transactions import commit_with_events, record_events
from shared.ids import new_id
from tests.support.aws import TestCloud
from tests.support.events import order_event


def _order_event(tenant_id: str, order_id: str, event_type: str = "order.partially_filled") -> DomainEvent:
    return order_event(tenant_id, event_type, order_id=order_id)


def _failing_stage(tenant: str, calls: list[int]) -> Callable[[TransactWrite], None]:
    """A caller's write whose own condition fails (it updates a row that does not exist)."""

    def stage(tx: TransactWrite) -> None:
        calls.append(1)
        missing = SequenceCounterRecord(tenant_id=tenant, event_id="seq#nothing#here", last_sequence=1)
        tx.update(
            missing,
            actions=[SequenceCounterRecord.last_sequence.set(2)],
            condition=SequenceCounterRecord.event_id.exists(),
        )

    return stage


def test_events_of_one_order_in_one_transaction_are_numbered_in_order(test_cloud: TestCloud) -> None:
    tenant, order, other = new_id("ten"), new_id("ord"), new_id("ord")
    first = record_events(
        [_order_event(tenant, order), _order_event(tenant, other), _order_event(tenant, order, "order.filled")]
    )
    assert [(e.aggregate.id if e.aggregate else None, e.sequence) for e in first] == [
        (order, 1),
        (other, 1),
        (order, 2),
    ]
    later = record_events([_order_event(tenant, order, "order.canceled")])
    assert later[0].sequence == 3
    stored = get_event(tenant, first[2].id)
    assert stored is not None and stored.sequence == 2  # the outbox row (history, replays) carries it too
    assert get_event(tenant, later[0].id) == later[0]


def test_concurrent_commits_for_one_aggregate_never_share_a_number(
    test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both writers read the counter before either commits (a barrier holds them there): without
    the conditional counter write both would claim 1; with it the loser renumbers to 2."""
    tenant, order = new_id("ten"), new_id("ord")
    barrier = threading.Barrier(2, timeout=10)
    local = threading.local()
    real_read = read_sequence_counters

    def read_then_meet(keys: Sequence[CounterKey]) -> dict[CounterKey, int]:
        found = real_read(keys)
        if not getattr(local, "met", False):
            local.met = True
            barrier.wait()
        return found

    monkeypatch.setattr(sequences, "read_sequence_counters", read_then_meet)
    results: list[DomainEvent] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            results.extend(record_events([_order_event(tenant, order)]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(e.sequence or 0 for e in results) == [1, 2]
    for event in results:
        stored = get_event(tenant, event.id)
        assert stored is not None and stored.sequence == event.sequence


def test_a_callers_failed_condition_is_raised_once_and_consumes_no_number(test_cloud: TestCloud) -> None:
    tenant, order = new_id("ten"), new_id("ord")
    calls: list[int] = []

    stage = _failing_stage(tenant, calls)
    record_events([_order_event(tenant, order)])  # the counter exists: the retry check reads it
    with pytest.raises(TransactWriteError):
        commit_with_events(stage, [_order_event(tenant, order)])
    assert calls == [1]
    assert record_events([_order_event(tenant, order)])[0].sequence == 2


def test_counter_rows_stay_out_of_event_history(test_cloud: TestCloud) -> None:
    from shared.events.history import EventQuery, recent_events

    tenant = new_id("ten")
    record_events([_order_event(tenant, new_id("ord"))])
    events, more = recent_events(tenant, EventQuery(), limit=10)
    assert len(events) == 1 and not more
    assert get_event(tenant, f"seq#order#{events[0].data['order_id']}") is None


def test_a_transaction_conflict_is_tried_again(test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB cancels a transaction that meets another in flight on the same item (the shared
    counter) with `TransactionConflict`: nothing was written, so the commit tries again."""
    from pynamodb.exceptions import CancellationReason, VerboseClientError

    from shared.persistence import connection

    tenant, order = new_id("ten"), new_id("ord")
    calls: list[int] = []
    shared_connection = connection()
    real = shared_connection.transact_write_items

    def conflict_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                "TransactWriteItems",
                {},
                cancellation_reasons=[CancellationReason(code="TransactionConflict"), None],
            )
            raise TransactWriteError("Failed to write transaction items", cause)
        return real(*args, **kwargs)

    monkeypatch.setattr(shared_connection, "transact_write_items", conflict_once)
    [event] = record_events([_order_event(tenant, order)])
    assert len(calls) == 2 and event.sequence == 1
    assert get_event(tenant, event.id) == event


def test_a_known_counter_is_not_read_and_the_carried_number_is_the_last_committed(
    test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row that carries its aggregate's last sequence (an order) spares the counter read."""
    tenant, order = new_id("ten"), new_id("ord")
    counter = sequences.counter_of(tenant, "order", order)
    reads: list[Sequence[CounterKey]] = []
    real_read = read_sequence_counters

    def counted_read(keys: Sequence[CounterKey]) -> dict[CounterKey, int]:
        reads.append(list(keys))
        return real_read(keys)

    monkeypatch.setattr(sequences, "read_sequence_counters", counted_read)
    carried: list[int] = []
    events = [_order_event(tenant, order, "order.created"), _order_event(tenant, order, "order.submitted")]
    first = commit_with_events(
        lambda _tx: None,
        events,
        known_sequences={counter: 0},
        carry_sequences=lambda last: carried.append(last[counter]),
    )
    assert [e.sequence for e in first] == [1, 2] and carried == [2] and reads == []
    later = commit_with_events(
        lambda _tx: None, [_order_event(tenant, order, "order.filled")], known_sequences={counter: 2}
    )
    assert later[0].sequence == 3 and reads == []
    assert real_read([counter]) == {counter: 3}


def test_a_stale_known_counter_costs_a_retry_never_a_wrong_number(test_cloud: TestCloud) -> None:
    """The counter moved without the carrying row (an event committed elsewhere): the condition on
    the counter fails, the commit re-reads it and numbers from the truth."""
    tenant, order = new_id("ten"), new_id("ord")
    counter = sequences.counter_of(tenant, "order", order)
    record_events([_order_event(tenant, order), _order_event(tenant, order)])  # counter at 2
    attempts: list[int] = []
    carried: list[int] = []
    committed = commit_with_events(
        lambda _tx: attempts.append(1),
        [_order_event(tenant, order, "order.filled")],
        known_sequences={counter: 0},  # stale: a new order's hint, for an order that has events
        carry_sequences=lambda last: carried.append(last[counter]),
    )
    assert committed[0].sequence == 3
    assert attempts == [1, 1] and carried == [1, 3]  # tried with the hint, then with the counter read
    assert read_sequence_counters([counter]) == {counter: 3}


def test_an_order_row_carries_its_event_sequence_through_the_lifecycle(test_cloud: TestCloud) -> None:
    """changes.commit hands the order row's number to the commit and stores the new one on it,
    including across a commit made without the row (no order event is committed that way today;
    the commit must still number correctly if one ever is)."""
    from shared.orders import changes
    from shared.orders.models import get_order
    from shared.orders.states import OrderStatus

    order = _new_order()
    changes.commit(order, [changes.order_event("order.created", order)], new=True)
    assert order.event_sequence == 1
    record_events([_order_event(order.tenant_id, order.order_id, "order.unknown")])  # counter 2, row says 1
    fresh = get_order(order.tenant_id, order.order_id)
    assert fresh is not None and fresh.event_sequence == 1
    changes.move(fresh, OrderStatus.REJECTED, reason="test")
    stored = get_order(order.tenant_id, order.order_id)
    assert stored is not None and stored.event_sequence == 3
    counter = sequences.counter_of(order.tenant_id, "order", order.order_id)
    assert read_sequence_counters([counter]) == {counter: 3}


def _new_order() -> Any:
    """A PENDING_SUBMIT order row, not saved yet."""
    from shared.clock import utc_now
    from shared.orders.models import OrderRecord
    from shared.orders.states import OrderStatus

    now, order_id = utc_now(), new_id("ord")
    order = OrderRecord(
        tenant_id=new_id("ten"),
        order_id=order_id,
        created_key=f"{now.isoformat()}#{order_id}",
        source="manual",
        intent_id=new_id("int"),
        account_id="paper",
        exchange="paper",
        symbol="BTC/USDT",
        side="buy",
        type="market",
        amount="1",
        client_order_id=new_id("co"),
        created_at=now,
        updated_at=now,
        status=OrderStatus.PENDING_SUBMIT.value,
    )
    order.set_status(OrderStatus.PENDING_SUBMIT)
    return order


def test_a_dead_lettered_task_for_a_settled_order_raises_its_alert_with_the_orders_row(test_cloud: TestCloud) -> None:
    """The alert is one of the order's events: committed with the row, which keeps carrying the
    counter, so the order's next commit needs no counter read."""
    from shared.orders import changes
    from shared.orders.dead_letters import settle_dead_lettered_task
    from shared.orders.models import get_order
    from shared.orders.states import OrderStatus
    from shared.orders.tasks import TradeTask

    order = _new_order()
    changes.commit(order, [changes.order_event("order.created", order)], new=True)
    changes.move(order, OrderStatus.REJECTED, reason="test")
    task = TradeTask(kind="cancel", tenant_id=order.tenant_id, order_id=order.order_id, account_id="paper")
    assert settle_dead_lettered_task(task.model_dump_json(), receive_count=5) == "left as REJECTED"
    stored = get_order(order.tenant_id, order.order_id)
    assert stored is not None and stored.event_sequence == 3
    counter = sequences.counter_of(order.tenant_id, "order", order.order_id)
    assert read_sequence_counters([counter]) == {counter: 3}


def test_a_stale_hint_and_a_failed_condition_of_the_callers_are_not_retried(test_cloud: TestCloud) -> None:
    """Two writers carrying the same hint: the loser fails on its own version check and on the
    counter. Renumbering cannot save it, so it is not retried (one transaction, not two)."""
    tenant, order = new_id("ten"), new_id("ord")
    counter = sequences.counter_of(tenant, "order", order)
    record_events([_order_event(tenant, order)])  # counter at 1
    calls: list[int] = []

    stage = _failing_stage(tenant, calls)
    with pytest.raises(TransactWriteError):
        commit_with_events(stage, [_order_event(tenant, order)], known_sequences={counter: 0})
    assert calls == [1]
    assert read_sequence_counters([counter]) == {counter: 1}
