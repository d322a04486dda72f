"""Exactly-once order placement on Kraken, under injected faults, through ccxt and the fake Kraken.

The Kraken twin of test_exactly_once.py: the account is registered through the API, orders go
through the real API, trade worker and reconciler, and ccxt's kraken class talks to the fake over
HTTP. Kraken differs from Binance where it matters here: our client ids are UUIDs sent as
`cl_ord_id`; ccxt cannot look an order up by client id (the adapter searches open, then closed,
orders instead); AddOrder answers without the order's state; cancels answer `{"count": 1}`;
order answers name pairs by altname ("XBTUSD"). Every test ends by checking the history: one
terminal state per intent, at most one exchange order per intent, none the exchange holds
unknown to us.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller
from tests.support.aws import TestCloud
from tests.support.fake_kraken import Endpoint, FakeKraken, Fault, make_ccxt_kraken, new_secret
from tests.support.trading import (
    Desk,
    PointAt,
    TradingRig,
    exchange_api_for,
    register_account,
    run_the_same_task_twice_at_once,
)

MARKET_BUY = {"symbol": "BTC/USD", "side": "buy", "type": "market", "amount": "0.01"}
LIMIT_BUY = {"symbol": "BTC/USD", "side": "buy", "type": "limit", "amount": "0.02", "price": "59000"}


@pytest.fixture
def fake() -> Iterator[FakeKraken]:
    with FakeKraken(api_key="k-" + secrets.token_hex(8), secret=new_secret(),
                    initial_balances={"USD": "1000000", "BTC": "10"}) as server:
        yield server


@pytest.fixture
def desk(tenant_a: Caller, fake: FakeKraken, point_kraken_at: PointAt, test_cloud: TestCloud) -> Desk:
    point_kraken_at(fake)
    account = register_account(exchange_api_for(tenant_a), "kraken", fake)
    return Desk(tenant_a, account, fake, TradingRig(test_cloud, tenant_a.tenant_id), default_order=MARKET_BUY,
                client_id_field="cl_ord_id", exchange_order_id=lambda held: str(held.txid))


def test_account_registration_is_checked_with_a_signed_balance_call(desk: Desk) -> None:
    check = desk.fake.requests_to(Endpoint.BALANCE_EX)[0]
    assert (check.api_key_valid, check.signature_valid, check.nonce_valid) == (True, True, True)
    balances = exchange_api_for(desk.caller).get(f"/exchange-accounts/{desk.account}/balances")
    assert balances.status == 200, balances.text
    assets = balances.json["balances"]
    assert Decimal(assets["BTC"]["total"]) == 10 and Decimal(assets["USD"]["free"]) == 1000000


def test_request_carries_our_uuid_client_id_precision_and_a_valid_signature(desk: Desk) -> None:
    placed = desk.place({"symbol": "BTC/USD", "side": "buy", "type": "limit", "amount": "0.01234567",
                         "price": "59000.5"})
    desk.rig.drain()
    [request] = desk.creates_for(placed["client_order_id"])
    assert len(placed["client_order_id"]) == 36 and placed["client_order_id"].count("-") == 4
    assert request.body["cl_ord_id"] == placed["client_order_id"] and "userref" not in request.body
    assert (request.body["pair"], request.body["volume"], request.body["price"]) == ("XXBTZUSD", "0.01234567",
                                                                                     "59000.5")
    assert (request.api_key_valid, request.signature_valid, request.nonce_valid) == (True, True, True)
    assert desk.assert_exactly_once(placed["id"])["status"] == "OPEN"


def test_a_market_order_is_filled_at_submit_and_moves_the_position(desk: Desk) -> None:
    placed = desk.place()
    desk.rig.drain()
    done = desk.assert_exactly_once(placed["id"])
    assert done["status"] == "FILLED" and done["filled"] == "0.01" and done["average_price"] == "60000"
    assert done["fee"]["currency"] == "USD"
    position = desk.api.get("/positions").json["items"][0]
    assert position["quantity"] == "0.01" and position["average_entry_price"] == "60000"


def test_limit_order_partial_then_full_fill_through_the_reconciler(desk: Desk, bus_tap: BusTap) -> None:
    placed = desk.place(LIMIT_BUY)
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
    types = [e["type"] for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=4) if e["type"].startswith("order.")]
    assert types == ["order.created", "order.submitted", "order.partially_filled", "order.filled"]


def test_cancel_through_the_api_records_kraken_s_count_only_answer_as_the_order(desk: Desk) -> None:
    placed = desk.place(LIMIT_BUY)
    desk.rig.drain()
    txid = desk.order(placed["id"])["exchange_order_id"]
    assert desk.api.post(f"/orders/{placed['id']}/cancel").status in (200, 202)
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "CANCELED" and final["exchange_order_id"] == txid
    assert desk.fake.order(txid).status == "canceled"
    assert desk.fake.balance("USD") == (1000000, 0), "the hold is released"


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
    assert desk.order(placed["id"])["exchange_order_id"] is None, "only the client id is known"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_timeout_after_accept_is_reconciled_not_resent(desk: Desk) -> None:
    desk.fake.faults.on_add_order(Fault.accept_then_timeout(delay_s=2))
    placed = desk.place()
    desk.rig.drain()
    unknown = desk.order(placed["id"])
    assert unknown["status"] == "UNKNOWN" and unknown["reason"] == "ambiguous:RequestTimeout"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


SERVICE_FAULTS = {
    "EService:Unavailable": lambda executed: Fault.service_error(execute=executed),
    "cdn_502": lambda executed: Fault.server_error(502, execute=executed),
}


@pytest.mark.parametrize("executed", [True, False], ids=["executed", "not_executed"])
@pytest.mark.parametrize("kind", sorted(SERVICE_FAULTS))
def test_service_errors_are_reconciled(desk: Desk, kind: str, executed: bool) -> None:
    """The order may or may not exist. Existing: found by its cl_ord_id. Not: NOT_PLACED after the
    deadline and time-spaced misses; never resent."""
    desk.fake.faults.on_add_order(SERVICE_FAULTS[kind](executed))
    placed = desk.place()
    desk.rig.drain()
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    desk.rig.settle()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == ("FILLED" if executed else "NOT_PLACED")
    creates = desk.creates_for(placed["client_order_id"])
    assert len(creates) == 1
    assert {r.body["cl_ord_id"] for r in creates} == {placed["client_order_id"]}


def test_lag_longer_than_the_miss_threshold_is_adopted_not_doubled(desk: Desk) -> None:
    """Kraken accepts a reused cl_ord_id once the first order closed: a lagging order must be
    adopted when it shows, never sent again."""
    from shared.clock import utc_now

    desk.fake.faults.on_add_order(Fault.accept_then_timeout(delay_s=2))
    desk.fake.faults.on_lookup(times=40)
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle(rounds=8)
    assert desk.order(placed["id"])["status"] == "NOT_PLACED"
    desk.fake.faults.clear()
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "FILLED" and final["reason"] == "found_after_not_placed"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_duplicate_cl_ord_id_answer_means_the_order_exists(desk: Desk) -> None:
    """Kraken refuses a cl_ord_id held by an open order ("EOrder:Duplicate order"): the order
    exists, so it is looked up and tracked, never REJECTED."""
    desk.fake.faults.on_add_order(Fault.error("EOrder:Duplicate order", execute=True))
    placed = desk.place(LIMIT_BUY)
    desk.rig.drain()
    assert desk.order(placed["id"])["reason"] == "ambiguous:duplicate_client_order_id"
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "OPEN"


def test_ambiguous_order_is_not_declared_missing_before_the_deadline(desk: Desk) -> None:
    from shared.clock import utc_now

    desk.fake.faults.on_add_order(Fault.service_error(execute=False))
    placed = desk.place()
    desk.rig.drain()
    for _ in range(6):  # many not-founds, but the request could still be in flight
        desk.rig.reconcile(now=utc_now())
    assert desk.order(placed["id"])["status"] == "UNKNOWN"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_replica_lag_not_found_then_found(desk: Desk) -> None:
    """Lookups miss the order three times (replica lag, under the not-found threshold of 4), then
    find it: it is never resubmitted, though Kraken would accept the reused cl_ord_id now that
    the first order is closed."""
    desk.fake.faults.on_add_order(Fault.accept_then_timeout(delay_s=2))
    desk.fake.faults.on_lookup(times=3)
    placed = desk.place()
    desk.rig.drain()
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    assert desk.fake.faults.pending(Endpoint.ORDER_LOOKUP) == 0, "all three misses happened"


def test_definite_rejection_is_final_and_not_retried(desk: Desk, bus_tap: BusTap) -> None:
    desk.fake.faults.on_add_order(Fault.insufficient_funds())
    placed = desk.place()
    desk.rig.settle()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] == "REJECTED" and final["reason"] == "insufficient_funds"
    assert len(desk.creates_for(placed["client_order_id"])) == 1
    rejected = [e for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=2) if e["type"] == "order.rejected"]
    assert rejected[0]["data"]["reason"] == "insufficient_funds"


def test_real_insufficient_funds_is_rejected_too(desk: Desk) -> None:
    desk.fake.set_balance("USD", "10")
    placed = desk.place()
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["reason"] == "insufficient_funds"


REFUSALS = {
    "EAPI:Rate limit exceeded": Fault.rate_limited,
    "EOrder:Rate limit exceeded": lambda: Fault.rate_limited("order"),
    "cdn_429": lambda: Fault.rate_limited(http_status=429),
    "EAPI:Invalid nonce": Fault.invalid_nonce,
}


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_refusals_that_prove_nothing_was_done_are_retried_until_placed_once(desk: Desk, kind: str) -> None:
    desk.fake.faults.on_add_order(REFUSALS[kind](), times=2)
    placed = desk.place()
    desk.rig.drain()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 3  # two refusals, one order


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
    """Two workers get the same task at once (a visibility timeout ran out mid-call); they share
    one ccxt instance, so their nonces come from one counter."""
    placed = desk.place()
    run_the_same_task_twice_at_once(desk, placed["id"], monkeypatch)
    desk.rig.settle()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 1


def test_drift_an_order_we_did_not_place_is_reported_once(desk: Desk, bus_tap: BusTap) -> None:
    ours = desk.place(LIMIT_BUY)
    desk.rig.drain()
    stranger = make_ccxt_kraken(desk.fake).create_order("ETH/USD", "limit", "buy", 0.1, 2900,
                                                        {"clientOrderId": "someone-else-1"})
    desk.rig.reconcile()
    desk.rig.reconcile()
    drift = [e for e in bus_tap.of_tenant(desk.caller.tenant_id, expect=3)
             if e["type"] == "reconciliation.drift_detected"]
    assert len(drift) == 1
    assert drift[0]["data"]["exchange_order_id"] == stranger["id"]
    assert drift[0]["data"]["symbol"] == "ETH/USD"
    assert desk.assert_exactly_once(ours["id"])["status"] == "OPEN"


FAULTS = {
    "none": None,
    "timeout_after_accept": lambda: Fault.accept_then_timeout(delay_s=1),
    "service_unavailable_executed": lambda: Fault.service_error(execute=True),
    "service_unavailable_not_executed": lambda: Fault.service_error(execute=False),
    "cdn_502_executed": lambda: Fault.server_error(502, execute=True),
    "rate_limited": Fault.rate_limited,
    "insufficient_funds": Fault.insufficient_funds,
}
SCHEDULES = [
    (["timeout_after_accept", "rate_limited"], 2, True),
    (["service_unavailable_not_executed", "service_unavailable_executed"], 3, False),
    (["rate_limited", "service_unavailable_not_executed"], 1, True),
    (["cdn_502_executed"], 3, True),
    (["insufficient_funds", "timeout_after_accept"], 0, False),
    (["none"], 2, True),
    (["timeout_after_accept"], 12, False),
    (["cdn_502_executed", "rate_limited"], 12, True),
]


@pytest.mark.parametrize(("create_faults", "lookup_misses", "crash_after_accept"), SCHEDULES,
                         ids=["+".join(s[0]) + f"-lag{s[1]}" + ("-crash" if s[2] else "") for s in SCHEDULES])
def test_history_invariant_under_combined_fault_schedules(desk: Desk, monkeypatch: pytest.MonkeyPatch,
                                                          create_faults: list[str], lookup_misses: int,
                                                          crash_after_accept: bool) -> None:
    """At most one exchange order per intent and none lost, whatever the combination, including
    replica lag longer than the not-found threshold (the order is adopted when it shows)."""
    from shared.clock import utc_now
    from shared.orders import recording

    for name in create_faults:
        factory = FAULTS[name]
        if factory is not None:
            desk.fake.faults.on_add_order(factory())
    if lookup_misses:
        desk.fake.faults.on_lookup(times=lookup_misses)
    real = recording.record_exchange_state
    crashes = {"left": 1 if crash_after_accept else 0}

    def maybe_crash(*args: Any, **kwargs: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(recording, "record_exchange_state", maybe_crash)
        placed = desk.place()
        desk.rig.settle(rounds=10)
    desk.fake.faults.clear()  # the lag is over
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] in {"FILLED", "REJECTED", "NOT_PLACED"}
    assert len(desk.creates_for(placed["client_order_id"])) <= 1 + create_faults.count("rate_limited")
