"""Exactly-once order placement under injected faults, on every fake exchange (Binance and Kraken)
through the real API, trade worker, reconciler and ccxt.

Each test runs once per exchange: `desk.faults` names each fault the way every exchange has it in
some form (see tests/support/desks.py for what it becomes on each wire). Tests of our own
queue and idempotency semantics, which no exchange answer changes, run on one exchange only
(marked below). Exchange-specific behaviour (signing, ids, Binance's -1007 and rate-limit codes,
Kraken's nonces and count-only cancel answer, the randomized fault schedules in each exchange's
vocabulary) is in test_exactly_once_binance.py and test_exactly_once_kraken.py.

Every test ends by checking the history: each intent reaches one terminal state, the exchange
holds at most one order per intent, and no order the exchange holds is unknown to us.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta
from decimal import Decimal

import boto3
import pytest

from tests.integration.conftest import BusTap
from tests.support.desks import FakeDesk, desk_fixture, kill_the_worker_after_accept
from tests.support.trading import run_the_same_task_twice_at_once

desk = desk_fixture("binance", "kraken")
one_exchange = pytest.mark.parametrize("desk", ["binance"], indirect=True)  # exchange-independent behaviour


def _event_types(bus_tap: BusTap, desk: FakeDesk, prefix: str, count: int) -> list[str]:
    """The tenant's event types starting with `prefix`, once `count` of them arrived (or 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        types = [e["type"] for e in bus_tap.of_tenant(desk.caller.tenant_id) if e["type"].startswith(prefix)]
        if len(types) >= count or time.monotonic() > deadline:
            return types
        time.sleep(0.05)


def test_limit_order_partial_then_full_fill_through_the_reconciler(desk: FakeDesk, bus_tap: BusTap) -> None:
    placed = desk.place(desk.limit_buy)
    desk.rig.drain()
    desk.fake.fill_order(placed["client_order_id"], qty="0.005")
    desk.rig.reconcile()
    partial = desk.order(placed["id"])
    assert partial["status"] == "PARTIALLY_FILLED" and partial["filled"] == "0.005"
    desk.fake.fill_order(placed["client_order_id"])
    desk.rig.reconcile()
    done = desk.assert_exactly_once(placed["id"])
    assert done["status"] == "FILLED" and done["filled"] == "0.02" and done["average_price"] == "59000"
    assert len(done["fills"]) == 2
    types = _event_types(bus_tap, desk, "order.", 4)
    assert types == ["order.created", "order.submitted", "order.partially_filled", "order.filled"]
    position = desk.api.get("/positions").json["items"][0]
    assert position["quantity"] == "0.02" and position["average_entry_price"] == "59000"


def test_worker_killed_between_exchange_accept_and_our_write(desk: FakeDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    kill_the_worker_after_accept(monkeypatch)
    placed = desk.place()
    desk.rig.drain()  # the task is redelivered, finds SUBMITTING and must not send again
    unknown = desk.order(placed["id"])
    assert unknown["status"] == "UNKNOWN" and unknown["exchange_order_id"] is None, "only the client id is known"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_timeout_after_accept_is_reconciled_not_resent(desk: FakeDesk) -> None:
    desk.faults.accept_then_timeout()
    placed = desk.place()
    desk.rig.drain()
    unknown = desk.order(placed["id"])
    assert unknown["status"] == "UNKNOWN" and unknown["reason"] == "ambiguous:RequestTimeout"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


@pytest.mark.parametrize("answer", ["status_unknown", "server_error"])
@pytest.mark.parametrize("executed", [True, False], ids=["executed", "not_executed"])
def test_ambiguous_answers_are_reconciled_never_resent(
    desk: FakeDesk, bus_tap: BusTap, answer: str, executed: bool
) -> None:
    """The order may or may not exist (Binance -1007 or a 503; Kraken EService:Unavailable or the
    CDN's 502). Existing: found by its client id. Not: after the deadline and time-spaced misses it
    is NOT_PLACED, with an event that lets its owner act again; never resent."""
    getattr(desk.faults, answer)(executed=executed)
    placed = desk.place()
    desk.rig.drain()
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    desk.rig.settle()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == ("FILLED" if executed else "NOT_PLACED")
    creates = desk.creates_for(placed["client_order_id"])
    assert len(creates) == 1
    if not executed:
        types = _event_types(bus_tap, desk, "", 3)
        assert types[-1] == "order.not_placed" and "order.resubmitted" not in types


def test_lag_longer_than_the_miss_threshold_is_adopted_not_doubled(desk: FakeDesk, bus_tap: BusTap) -> None:
    """An accepted order whose create timed out, and whose lookups miss it more often than the
    threshold. It must not be resent (Binance and Kraken take a reused client id once the first
    closed: two fills for one intent). It becomes NOT_PLACED, is looked up again later, and is
    adopted when it shows: its fill reaches the position, once."""
    from shared.clock import utc_now

    desk.faults.accept_then_timeout()
    desk.faults.not_found_on_lookup(desk.faults.misses_past_threshold)
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle(rounds=8)
    assert desk.order(placed["id"])["status"] == "NOT_PLACED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1  # never resent
    assert len(desk.fake.orders_with_client_id(placed["client_order_id"])) == 1  # the exchange filled it

    desk.faults.clear()  # the exchange catches up
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "FILLED" and final["reason"] == "found_after_not_placed"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    held = desk.fake.orders_with_client_id(placed["client_order_id"])[0]
    assert desk.position_quantity() == Decimal(final["filled"]) == desk.executed_qty(held)
    types = set(_event_types(bus_tap, desk, "", 7))
    assert {"order.not_placed", "order.found_after_not_placed", "alert.late_order_adopted", "order.filled"} <= types


def test_duplicate_client_id_answer_means_the_order_exists(desk: FakeDesk, bus_tap: BusTap) -> None:
    """The refusal of a client id held by a live order (Binance -2010 "Duplicate order sent.",
    Kraken "EOrder:Duplicate order") says our order exists. It must be looked up and tracked,
    never REJECTED."""
    desk.faults.duplicate_client_id()
    placed = desk.place({**desk.limit_buy, "amount": "0.01"})
    desk.rig.drain()
    unknown = desk.order(placed["id"])
    assert unknown["status"] == "UNKNOWN" and unknown["reason"] == "ambiguous:duplicate_client_order_id"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "OPEN"
    desk.fake.fill_order(placed["client_order_id"])
    desk.rig.settle(rounds=1)
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert "order.rejected" not in _event_types(bus_tap, desk, "", 4)


def test_ambiguous_order_is_not_declared_missing_before_the_deadline(desk: FakeDesk) -> None:
    from shared.clock import utc_now

    desk.faults.status_unknown(executed=False)
    placed = desk.place()
    desk.rig.drain()
    for _ in range(6):  # many not-founds, but the request could still be in flight
        desk.rig.reconcile(now=utc_now())
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_replica_lag_not_found_then_found(desk: FakeDesk) -> None:
    """Lookups miss the order three times (replica lag, under the not-found threshold of 4), then
    find it: it is never resubmitted, though the exchange would accept the reused client id now
    that the first order is closed."""
    desk.faults.accept_then_timeout()
    desk.faults.not_found_on_lookup(3)
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    assert desk.faults.pending_lookup_misses() == 0, "all three misses happened"


def test_sqs_redelivery_of_the_same_task_sends_nothing(desk: FakeDesk) -> None:
    placed = desk.place()
    desk.rig.drain()
    task = {"kind": "submit", "tenant_id": desk.caller.tenant_id, "order_id": placed["id"], "account_id": desk.account}
    for _ in range(3):
        desk.rig.send_raw(json.dumps(task), group=f"{desk.caller.tenant_id}#{desk.account}")
    desk.rig.drain()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_the_same_task_twice_concurrently(desk: FakeDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers get the same task at once (a visibility timeout ran out mid-call); on Kraken
    they share one ccxt instance, so their nonces come from one counter."""
    placed = desk.place()
    run_the_same_task_twice_at_once(desk, placed["id"], monkeypatch)
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_definite_rejection_is_final_and_not_retried(desk: FakeDesk, bus_tap: BusTap) -> None:
    desk.faults.insufficient_funds()
    placed = desk.place()
    desk.rig.settle()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "REJECTED" and final["reason"] == "insufficient_funds"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    _event_types(bus_tap, desk, "order.rejected", 1)
    rejected = [e for e in bus_tap.of_tenant(desk.caller.tenant_id) if e["type"] == "order.rejected"]
    assert rejected[0]["data"]["reason"] == "insufficient_funds"


def test_real_insufficient_funds_is_rejected_too(desk: FakeDesk) -> None:
    desk.fake.set_balance(desk.quote, "10")
    placed = desk.place()
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["reason"] == "insufficient_funds"


def test_drift_an_order_we_did_not_place_is_reported_once(desk: FakeDesk, bus_tap: BusTap) -> None:
    ours = desk.place(desk.limit_buy)
    desk.rig.drain()
    stranger_id, stranger_symbol = desk.place_stranger()
    desk.rig.reconcile()
    desk.rig.reconcile()
    _event_types(bus_tap, desk, "reconciliation.drift_detected", 1)
    drift = [e for e in bus_tap.of_tenant(desk.caller.tenant_id) if e["type"] == "reconciliation.drift_detected"]
    assert len(drift) == 1
    assert drift[0]["data"]["exchange_order_id"] == stranger_id
    assert drift[0]["data"]["symbol"] == stranger_symbol
    assert drift[0]["data"]["kind"] == "unknown_open_order"
    assert desk.assert_exactly_once(ours["id"])["status"] == "OPEN"


# -- exchange-independent: our queue, intent and idempotency semantics (run on one exchange) -------


@one_exchange
def test_quick_repeated_reconciler_runs_count_one_miss(desk: FakeDesk) -> None:
    """Misses count only when spaced by the configured interval, so a duplicated schedule or an
    operator's re-runs within seconds cannot declare an order dead."""
    from shared.clock import utc_now
    from shared.orders.models import get_order

    desk.faults.status_unknown(executed=False)
    placed = desk.place()
    desk.rig.drain()
    past_deadline = utc_now() + timedelta(minutes=5)
    for second in range(10):
        desk.rig.reconcile(now=past_deadline + timedelta(seconds=second))
    row = get_order(desk.caller.tenant_id, placed["id"])
    assert row is not None and row.status == "UNKNOWN" and row.not_found_count == 1
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def _forget_idempotency_records(desk: FakeDesk) -> None:
    """What 24 hours do: the powertools idempotency records expire."""
    table = boto3.resource("dynamodb").Table(desk.rig.cloud.resolver.ref("IdempotencyTable"))
    for item in table.scan()["Items"]:
        table.delete_item(Key={"id": item["id"]})


@one_exchange
@pytest.mark.parametrize("change", [{"stop_loss": "50000"}, {"take_profit": "70000"}, {"amount": "0.02"}])
def test_a_reused_intent_for_a_different_order_is_refused_after_the_idempotency_window(
    desk: FakeDesk, change: dict[str, str]
) -> None:
    """The intent comparison covers the whole request, so a field the old comparison left out
    (stop_loss, take_profit) is caught too."""
    key = secrets.token_hex(8)
    first = desk.place({**desk.default_order, "stop_loss": "40000", "take_profit": "80000"}, key=key)
    _forget_idempotency_records(desk)
    reply = desk.api.post(
        "/orders",
        body={
            **desk.default_order,
            "stop_loss": "40000",
            "take_profit": "80000",
            **change,
            "exchange_account_id": desk.account,
        },
        headers={"Idempotency-Key": key},
    )
    assert reply.status == 422, reply.text
    assert reply.json["error"]["code"] == "idempotency_key_reused"
    assert reply.json["error"]["details"]["order_id"] == first["id"]
    _forget_idempotency_records(desk)
    same = desk.place({**desk.default_order, "stop_loss": "40000.0", "take_profit": 8e4}, key=key)  # same numbers
    assert same["id"] == first["id"]


@one_exchange
def test_duplicate_manual_request_with_the_same_idempotency_key(desk: FakeDesk) -> None:
    key = secrets.token_hex(8)
    first = desk.place(key=key)
    second = desk.place(key=key)
    assert first["id"] == second["id"]
    # Long after the idempotency record expired, the intent row still deduplicates.
    _forget_idempotency_records(desk)
    third = desk.place(key=key)
    assert third["id"] == first["id"]
    desk.rig.settle()
    assert desk.assert_exactly_once(first["id"])["status"] == "FILLED"
    assert len(desk.creates_for(first["client_order_id"])) == 1


@one_exchange
def test_the_same_signal_beyond_the_fifo_dedup_window(desk: FakeDesk) -> None:
    """A signal repeated after SQS's 5-minute deduplication window: the intent row stops it."""
    from shared.orders.intents import create_intent
    from shared.orders.schemas import OrderCreate

    request = OrderCreate.model_validate({**desk.default_order, "exchange_account_id": desk.account})
    orders = [
        create_intent(
            tenant_id=desk.caller.tenant_id,
            source="signal:bot_x",
            intent_id="tv-alert-42",
            bot_id=None,
            account_id=desk.account,
            exchange_id=desk.exchange_id,
            request=request,
        )
        for _ in range(2)
    ]
    assert orders[0].order_id == orders[1].order_id
    task = {
        "kind": "submit",
        "tenant_id": desk.caller.tenant_id,
        "order_id": orders[0].order_id,
        "account_id": desk.account,
    }
    desk.rig.send_raw(json.dumps(task), group=f"{desk.caller.tenant_id}#{desk.account}")  # past dedup
    desk.rig.settle()
    assert desk.assert_exactly_once(orders[0].order_id)["status"] == "FILLED"
    assert len(desk.creates_for(orders[0].client_order_id)) == 1


@one_exchange
def test_poison_tasks_reach_the_dead_letter_queue_and_raise_an_alert(
    desk: FakeDesk, bus_tap: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.orders import execution

    placed_ok = desk.place()
    desk.rig.drain()
    # A task whose processing always fails, for an order that was never sent.
    monkeypatch.setattr(execution, "_risk_input", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("poison")))
    poisoned = desk.place({**desk.default_order, "amount": "0.02"})
    desk.rig.send_raw("{not json", group="poison-group")
    desk.rig.drain(rounds=40)
    final = desk.order(poisoned["id"])
    assert final["status"] == "REJECTED" and final["reason"] == "task_dead_lettered"
    alerts = [e for e in bus_tap.drain(expect=2, timeout=5) if e["type"] == "alert.trade_task_dead_lettered"]
    assert {a["data"]["resolution"] for a in alerts} >= {"never sent: rejected", "unparseable task dropped"}
    assert all(a["data"]["receive_count"] >= 5 for a in alerts)
    assert desk.fake.orders_with_client_id(poisoned["client_order_id"]) == []
    assert desk.assert_exactly_once(placed_ok["id"])["status"] == "FILLED"
