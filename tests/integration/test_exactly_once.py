"""Exactly-once order placement under injected faults, against ccxt and the fake Binance.

Every test ends by checking the history: each intent reaches one terminal state, the exchange
holds at most one order per intent, and no order the exchange holds is unknown to us.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import BusTap
from tests.support.api import Caller
from tests.support.aws import TestCloud
from tests.support.fake_exchange import Endpoint, FakeBinance, Fault
from tests.support.trading import (
    Desk,
    PointAt,
    TradingRig,
    exchange_api_for,
    register_account,
    run_the_same_task_twice_at_once,
)

MARKET_BUY = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.01"}


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(api_key="k-" + secrets.token_hex(8), secret="s-" + secrets.token_hex(16),
                     initial_balances={"USDT": "1000000", "BTC": "10"}) as server:
        yield server


@pytest.fixture
def desk(tenant_a: Caller, fake: FakeBinance, point_binance_at: PointAt, test_cloud: TestCloud) -> Desk:
    point_binance_at(fake)
    account = register_account(exchange_api_for(tenant_a), "binance", fake)
    return Desk(tenant_a, account, fake, TradingRig(test_cloud, tenant_a.tenant_id), default_order=MARKET_BUY,
                client_id_field="newClientOrderId", exchange_order_id=lambda held: str(held.order_id))


def test_ccxt_request_carries_our_client_id_precision_and_a_valid_signature(desk: Desk) -> None:
    placed = desk.place({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.01234",
                         "price": "59000.5"})
    desk.rig.drain()
    request = desk.creates_for(placed["client_order_id"])[0]
    assert request.params["newClientOrderId"] == placed["client_order_id"]
    assert len(placed["client_order_id"]) <= 36
    assert request.params["quantity"] == "0.01234"
    assert request.params["price"] == "59000.5"
    assert request.signature_valid is True and request.api_key_valid is True
    assert desk.assert_exactly_once(placed["id"])["status"] == "OPEN"


def test_limit_order_partial_then_full_fill_through_the_reconciler(desk: Desk, bus_tap: BusTap) -> None:
    placed = desk.place({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.02",
                         "price": "59000"})
    desk.rig.drain()
    desk.fake.fill_order(placed["client_order_id"], qty="0.005")
    desk.rig.reconcile()
    partial = desk.order(placed["id"])
    assert partial["status"] == "PARTIALLY_FILLED" and partial["filled"] == "0.005"
    desk.fake.fill_order(placed["client_order_id"])
    desk.rig.reconcile()
    done = desk.assert_exactly_once(placed["id"])
    assert done["status"] == "FILLED" and done["filled"] == "0.02"
    assert done["average_price"] == "59000"
    assert len(done["fills"]) == 2
    types = [e["type"] for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=6) if e["type"].startswith("order.")]
    assert types == ["order.created", "order.submitted", "order.partially_filled", "order.filled"]
    position = desk.api.get("/positions").json["items"][0]
    assert position["quantity"] == "0.02" and position["average_entry_price"] == "59000"


def test_worker_killed_between_exchange_accept_and_our_write(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.orders import recording

    real = recording.record_exchange_state
    crashes = {"left": 1}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("worker killed")  # the exchange has accepted; we never write it down
        return real(*args, **kwargs)

    monkeypatch.setattr(recording, "record_exchange_state", crash_once)
    placed = desk.place()
    desk.rig.drain()  # the task is redelivered, finds SUBMITTING and must not send again
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_timeout_after_accept_is_reconciled_not_resent(desk: Desk) -> None:
    desk.fake.faults.on_create(Fault.accept_then_timeout(delay_s=2))
    placed = desk.place()
    desk.rig.drain()
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


@pytest.mark.parametrize("executed", [True, False])
def test_status_unknown_is_reconciled_never_resent(desk: Desk, bus_tap: BusTap, executed: bool) -> None:
    """Binance -1007: the order may or may not exist. Existing: found. Not: after the deadline and
    time-spaced misses it is NOT_PLACED, with an event that lets its owner act again; never resent."""
    desk.fake.faults.on_create(Fault.status_unknown(execute=executed))
    placed = desk.place()
    desk.rig.drain()
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    desk.rig.settle()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == ("FILLED" if executed else "NOT_PLACED")
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    if not executed:
        types = [e["type"] for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=3)]
        assert types[-1] == "order.not_placed" and "order.resubmitted" not in types


def test_lag_longer_than_the_miss_threshold_is_adopted_not_doubled(desk: Desk, bus_tap: BusTap) -> None:
    """The review's first finding: an accepted order whose create timed out, and whose lookups
    miss it more often than the threshold. It must not be resent (Binance would take the reused
    client id once the first closed: two fills for one intent). It becomes NOT_PLACED, is looked
    up again later, and is adopted when it shows: its fill reaches the position, once."""
    from shared.clock import utc_now

    desk.fake.faults.on_create(Fault.accept_then_timeout(delay_s=2))
    desk.fake.faults.on_fetch_order(Fault.not_found(), times=8)
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle(rounds=8)
    assert desk.order(placed["id"])["status"] == "NOT_PLACED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1  # never resent
    assert len(desk.fake.orders_with_client_id(placed["client_order_id"])) == 1  # the exchange filled it

    desk.fake.faults.clear()  # the exchange catches up
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "FILLED" and final["reason"] == "found_after_not_placed"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    assert _position_quantity(desk) == Decimal(final["filled"]) == desk.fake.orders_with_client_id(
        placed["client_order_id"])[0].executed_qty
    types = {e["type"] for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=7)}
    assert {"order.not_placed", "order.found_after_not_placed", "alert.late_order_adopted", "order.filled"} <= types


def test_a_late_order_found_still_open_is_adopted_and_its_rest_canceled(desk: Desk) -> None:
    """Its owner was told it was not placed and may have acted again: what filled counts, the
    rest is canceled rather than left to add to the position."""
    from shared.clock import utc_now

    desk.fake.faults.on_create(Fault.accept_then_timeout(delay_s=2))
    # Open on the exchange, so the drift check also looks it up: lag long enough for all of them.
    desk.fake.faults.on_fetch_order(Fault.not_found(), times=40)
    placed = desk.place({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.02", "price": "59000"})
    desk.rig.drain()
    desk.rig.settle(rounds=8)
    assert desk.order(placed["id"])["status"] == "NOT_PLACED"
    desk.fake.faults.clear()
    desk.fake.fill_order(placed["client_order_id"], qty="0.005")
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()  # the cancel task
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "CANCELED" and final["filled"] == "0.005"
    assert desk.fake.orders_with_client_id(placed["client_order_id"])[0].status == "CANCELED"
    assert _position_quantity(desk) == Decimal("0.005")


def test_a_not_placed_order_is_watched_for_a_window_then_let_go(desk: Desk) -> None:
    from shared.clock import utc_now
    from shared.config import get_settings

    desk.fake.faults.on_create(Fault.status_unknown(execute=False))
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle()
    assert desk.order(placed["id"])["status"] == "NOT_PLACED"
    lookups_before = len(desk.fake.requests_to(Endpoint.FETCH_ORDER))
    start = utc_now()
    for minutes in (1, 2, 3):  # within the lookup interval: no lookups
        desk.rig.reconcile(now=start + timedelta(minutes=minutes))
    assert len(desk.fake.requests_to(Endpoint.FETCH_ORDER)) == lookups_before
    desk.rig.reconcile(now=start + timedelta(hours=2))
    assert len(desk.fake.requests_to(Endpoint.FETCH_ORDER)) == lookups_before + 1
    past_window = start + timedelta(seconds=get_settings().order_not_placed_watch_seconds + 3600)
    desk.rig.reconcile(now=past_window)
    after_last = len(desk.fake.requests_to(Endpoint.FETCH_ORDER))
    desk.rig.reconcile(now=past_window + timedelta(days=1))
    assert len(desk.fake.requests_to(Endpoint.FETCH_ORDER)) == after_last  # no longer looked up
    assert desk.assert_exactly_once(placed["id"])["status"] == "NOT_PLACED"


def test_quick_repeated_reconciler_runs_count_one_miss(desk: Desk) -> None:
    """The review's second finding: misses count only when spaced by the configured interval, so
    a duplicated schedule or an operator's re-runs within seconds cannot declare an order dead."""
    from shared.clock import utc_now
    from shared.orders.models import get_order

    desk.fake.faults.on_create(Fault.status_unknown(execute=False))
    placed = desk.place()
    desk.rig.drain()
    past_deadline = utc_now() + timedelta(minutes=5)
    for second in range(10):
        desk.rig.reconcile(now=past_deadline + timedelta(seconds=second))
    row = get_order(desk.caller.tenant_id, placed["id"])
    assert row is not None and row.status == "UNKNOWN" and row.not_found_count == 1
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_duplicate_client_id_answer_means_the_order_exists(desk: Desk, bus_tap: BusTap) -> None:
    """The review's third finding: Binance's -2010 "Duplicate order sent." (ccxt: InvalidOrder)
    says an order with our client id is live. It must be looked up and tracked, never REJECTED."""
    desk.fake.faults.on_create(Fault.duplicate_client_id(execute=True))
    placed = desk.place({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.01", "price": "59000"})
    desk.rig.drain()
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    assert desk.order(placed["id"])["reason"] == "ambiguous:duplicate_client_order_id"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "OPEN"
    desk.fake.fill_order(placed["client_order_id"])
    desk.rig.settle(rounds=1)
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert not [e for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=4) if e["type"] == "order.rejected"]


def test_ambiguous_order_is_not_declared_missing_before_the_deadline(desk: Desk) -> None:
    from shared.clock import utc_now

    desk.fake.faults.on_create(Fault.status_unknown(execute=False))
    placed = desk.place()
    desk.rig.drain()
    for _ in range(6):  # many not-founds, but the request could still be in flight
        desk.rig.reconcile(now=utc_now())
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_replica_lag_not_found_then_found(desk: Desk) -> None:
    """Lookups miss the order three times (replica lag), then find it: it must never be
    resubmitted, though Binance would accept the reused client id once the first filled."""
    desk.fake.faults.on_create(Fault.accept_then_timeout(delay_s=2))
    desk.fake.faults.on_fetch_order(Fault.not_found(), times=3)
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_server_error_after_executing_is_reconciled(desk: Desk) -> None:
    desk.fake.faults.on_create(Fault.server_error(503, execute=True))
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_sqs_redelivery_of_the_same_task_sends_nothing(desk: Desk) -> None:
    placed = desk.place()
    desk.rig.drain()
    task = {"kind": "submit", "tenant_id": desk.caller.tenant_id, "order_id": placed["id"],
            "account_id": desk.account}
    for _ in range(3):
        desk.rig.send_raw(json.dumps(task), group=f"{desk.caller.tenant_id}#{desk.account}")
    desk.rig.drain()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_the_same_task_twice_concurrently(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers get the same task at once (a visibility timeout ran out mid-call)."""
    placed = desk.place()
    run_the_same_task_twice_at_once(desk, placed["id"], monkeypatch)
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def _forget_idempotency_records(desk: Desk) -> None:
    """What 24 hours do: the powertools idempotency records expire."""
    table = boto3.resource("dynamodb").Table(desk.rig.cloud.resolver.ref("IdempotencyTable"))
    for item in table.scan()["Items"]:
        table.delete_item(Key={"id": item["id"]})


def _position_quantity(desk: Desk) -> Decimal:
    rows = [p for p in desk.api.get("/positions").json["items"]
            if p["exchange_account_id"] == desk.account and p["symbol"] == "BTC/USDT" and p["bot_id"] is None]
    return Decimal(rows[0]["quantity"]) if rows else Decimal(0)


@pytest.mark.parametrize("change", [{"stop_loss": "50000"}, {"take_profit": "70000"}, {"amount": "0.02"}])
def test_a_reused_intent_for_a_different_order_is_refused_after_the_idempotency_window(
        desk: Desk, change: dict[str, str]) -> None:
    """The review's fourth finding: the intent comparison covers the whole request, so a field
    the old comparison left out (stop_loss, take_profit) is caught too."""
    key = secrets.token_hex(8)
    first = desk.place({**MARKET_BUY, "stop_loss": "40000", "take_profit": "80000"}, key=key)
    _forget_idempotency_records(desk)
    reply = desk.api.post("/orders", body={**MARKET_BUY, "stop_loss": "40000", "take_profit": "80000", **change,
                                           "exchange_account_id": desk.account},
                          headers={"Idempotency-Key": key})
    assert reply.status == 422, reply.text
    assert reply.json["error"]["code"] == "idempotency_key_reused"
    assert reply.json["error"]["details"]["order_id"] == first["id"]
    _forget_idempotency_records(desk)
    same = desk.place({**MARKET_BUY, "stop_loss": "40000.0", "take_profit": "8E+4"}, key=key)  # same numbers
    assert same["id"] == first["id"]


def test_duplicate_manual_request_with_the_same_idempotency_key(desk: Desk) -> None:
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


def test_the_same_signal_beyond_the_fifo_dedup_window(desk: Desk) -> None:
    """A signal repeated after SQS's 5-minute deduplication window: the intent row stops it."""
    from shared.orders.intents import create_intent
    from shared.orders.schemas import OrderCreate

    request = OrderCreate.model_validate({**MARKET_BUY, "exchange_account_id": desk.account})
    orders = [create_intent(tenant_id=desk.caller.tenant_id, source="signal:bot_x", intent_id="tv-alert-42",
                            bot_id=None, account_id=desk.account, exchange_id="binance", request=request)
              for _ in range(2)]
    assert orders[0].order_id == orders[1].order_id
    task = {"kind": "submit", "tenant_id": desk.caller.tenant_id, "order_id": orders[0].order_id,
            "account_id": desk.account}
    desk.rig.send_raw(json.dumps(task), group=f"{desk.caller.tenant_id}#{desk.account}")  # past dedup
    desk.rig.settle()
    assert desk.assert_exactly_once(orders[0].order_id)["status"] == "FILLED"
    assert len(desk.creates_for(orders[0].client_order_id)) == 1


def test_definite_rejection_is_final_and_not_retried(desk: Desk, bus_tap: BusTap) -> None:
    desk.fake.faults.on_create(Fault.insufficient_funds())
    placed = desk.place()
    desk.rig.settle()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "REJECTED" and final["reason"] == "insufficient_funds"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    rejected = [e for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=4) if e["type"] == "order.rejected"]
    assert rejected[0]["data"]["reason"] == "insufficient_funds"


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limits_are_retried_until_placed_once(desk: Desk, status: int) -> None:
    desk.fake.faults.on_create(Fault.rate_limited(status), times=2)
    placed = desk.place()
    desk.rig.drain()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 3  # two refusals, one order


def test_poison_tasks_reach_the_dead_letter_queue_and_raise_an_alert(desk: Desk, bus_tap: BusTap,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.orders import execution

    placed_ok = desk.place()
    desk.rig.drain()
    # A task whose processing always fails, for an order that was never sent.
    monkeypatch.setattr(execution, "_risk_input", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("poison")))
    poisoned = desk.place({**MARKET_BUY, "amount": "0.02"})
    desk.rig.send_raw("{not json", group="poison-group")
    desk.rig.drain(rounds=40)
    final = desk.order(poisoned["id"])
    assert final["status"] == "REJECTED" and final["reason"] == "task_dead_lettered"
    alerts = [e for e in bus_tap.drain(expect=2, timeout=5) if e["type"] == "alert.trade_task_dead_lettered"]
    assert {a["data"]["resolution"] for a in alerts} >= {"never sent: rejected", "unparseable task dropped"}
    assert all(a["data"]["receive_count"] >= 5 for a in alerts)
    assert desk.fake.orders_with_client_id(poisoned["client_order_id"]) == []
    assert desk.assert_exactly_once(placed_ok["id"])["status"] == "FILLED"


FAULTS = {
    "none": None,
    "timeout_after_accept": lambda: Fault.accept_then_timeout(delay_s=1),
    "server_error_executed": lambda: Fault.server_error(500, execute=True),
    "server_error_not_executed": lambda: Fault.server_error(503, execute=False),
    "status_unknown_executed": lambda: Fault.status_unknown(execute=True),
    "status_unknown_not_executed": lambda: Fault.status_unknown(execute=False),
    "duplicate_client_id_executed": lambda: Fault.duplicate_client_id(execute=True),
    "rate_limited": lambda: Fault.rate_limited(429),
    "insufficient_funds": Fault.insufficient_funds,
}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(create_faults=st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=3),
       # Replica lag of any length, including longer than the not-found threshold (4): a lagging
       # order may be declared NOT_PLACED, and must then be adopted, never doubled.
       lookup_misses=st.integers(min_value=0, max_value=8),
       crash_after_accept=st.booleans(),
       duplicate_deliveries=st.integers(min_value=0, max_value=2),
       quick_reruns=st.integers(min_value=0, max_value=3),
       order_type=st.sampled_from(["market", "limit"]))
def test_exactly_once_under_random_fault_schedules(desk: Desk, monkeypatch: pytest.MonkeyPatch,
                                                   create_faults: list[str], lookup_misses: int,
                                                   crash_after_accept: bool, duplicate_deliveries: int,
                                                   quick_reruns: int, order_type: str) -> None:
    """Sharing one tenant and one fake exchange across examples is sound: every example checks its
    own intent, and the position invariant holds for the sum of all of them."""
    from shared.clock import utc_now
    from shared.orders import recording

    desk.fake.faults.clear()
    for name in create_faults:
        factory = FAULTS[name]
        if factory is not None:
            desk.fake.faults.on_create(factory())
    if lookup_misses:
        desk.fake.faults.on_fetch_order(Fault.not_found(), times=lookup_misses)
    real = recording.record_exchange_state
    crashes = {"left": 1 if crash_after_accept else 0}

    def maybe_crash(*args: Any, **kwargs: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(recording, "record_exchange_state", maybe_crash)
        body = dict(MARKET_BUY) if order_type == "market" else {
            "symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.01", "price": "60000"}
        placed = desk.place(body)
        task = {"kind": "submit", "tenant_id": desk.caller.tenant_id, "order_id": placed["id"],
                "account_id": desk.account}
        for _ in range(duplicate_deliveries):
            desk.rig.send_raw(json.dumps(task), group=f"{desk.caller.tenant_id}#{desk.account}")
        desk.rig.drain()
        soon = utc_now() + timedelta(minutes=2)
        for second in range(quick_reruns):  # a duplicated schedule: runs seconds apart
            desk.rig.reconcile(now=soon + timedelta(seconds=second))
        desk.rig.settle(rounds=10)
    desk.fake.faults.clear()  # the lag is over: a late lookup sees what the exchange holds
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] in {"FILLED", "OPEN", "REJECTED", "NOT_PLACED", "CANCELED"}
    # Only refusals that prove nothing was done (rate limits) may be followed by another send.
    assert len(desk.creates_for(placed["client_order_id"])) <= 1 + create_faults.count("rate_limited")
    assert _position_quantity(desk) == sum((o.executed_qty for o in desk.fake.orders), Decimal(0))


def test_drift_an_order_we_did_not_place_is_reported_once(desk: Desk, bus_tap: BusTap) -> None:
    from tests.support.fake_exchange import make_ccxt_binance

    ours = desk.place({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.01", "price": "59000"})
    desk.rig.drain()
    stranger = make_ccxt_binance(desk.fake).create_order("ETH/USDT", "limit", "buy", 0.1, 2900,
                                                         params={"newClientOrderId": "someone-else-1"})
    desk.rig.reconcile()
    desk.rig.reconcile()
    drift = [e for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=5)
             if e["type"] == "reconciliation.drift_detected"]
    assert len(drift) == 1
    assert drift[0]["data"]["exchange_order_id"] == str(stranger["id"])
    assert drift[0]["data"]["kind"] == "unknown_open_order"
    assert desk.assert_exactly_once(ours["id"])["status"] == "OPEN"
