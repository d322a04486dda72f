"""Exactly-once order placement on Binance: what only Binance's wire shows, against ccxt and the
fake Binance. The cases every exchange shares run on each of them in test_exactly_once.py.

Here: the signed request's client id and precision; a lagging order found still open (the drift
check also looks it up, so the lag counts Binance's order lookups); the NOT_PLACED watch window
(counted in GET /api/v3/order requests); Binance's rate-limit answers (429, and 418 for an IP
ban); and randomized fault schedules in Binance's vocabulary (-1007, -2010, 5xx, 429).
Every test ends by checking the history: each intent reaches one terminal state, the exchange
holds at most one order per intent, and no order the exchange holds is unknown to us.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.desks import FakeDesk as Desk
from tests.support.desks import desk_fixture, kill_the_worker_after_accept
from tests.support.fake_exchange import Endpoint, Fault

desk = desk_fixture("binance")
MARKET_BUY = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.01"}


def test_ccxt_request_carries_our_client_id_precision_and_a_valid_signature(desk: Desk) -> None:
    placed = desk.place({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.01234", "price": "59000.5"})
    desk.rig.drain()
    request = desk.creates_for(placed["client_order_id"])[0]
    assert request.params["newClientOrderId"] == placed["client_order_id"]
    assert len(placed["client_order_id"]) <= 36
    assert request.params["quantity"] == "0.01234"
    assert request.params["price"] == "59000.5"
    assert request.signature_valid is True and request.api_key_valid is True
    assert desk.assert_exactly_once(placed["id"])["status"] == "OPEN"


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


def _position_quantity(desk: Desk) -> Decimal:
    return desk.position_quantity()


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limits_are_retried_until_placed_once(desk: Desk, status: int) -> None:
    desk.fake.faults.on_create(Fault.rate_limited(status), times=2)
    placed = desk.place()
    desk.rig.drain()
    assert desk.assert_exactly_once(placed["id"])["status"] == "FILLED"
    assert len(desk.creates_for(placed["client_order_id"])) == 3  # two refusals, one order


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


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    create_faults=st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=3),
    # Replica lag of any length, including longer than the not-found threshold (4): a lagging
    # order may be declared NOT_PLACED, and must then be adopted, never doubled.
    lookup_misses=st.integers(min_value=0, max_value=8),
    crash_after_accept=st.booleans(),
    duplicate_deliveries=st.integers(min_value=0, max_value=2),
    quick_reruns=st.integers(min_value=0, max_value=3),
    order_type=st.sampled_from(["market", "limit"]),
)
def test_exactly_once_under_random_fault_schedules(
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    create_faults: list[str],
    lookup_misses: int,
    crash_after_accept: bool,
    duplicate_deliveries: int,
    quick_reruns: int,
    order_type: str,
) -> None:
    """Sharing one tenant and one fake exchange across examples is sound: every example checks its
    own intent, and the position invariant holds for the sum of all of them."""
    from shared.clock import utc_now

    desk.fake.faults.clear()
    for name in create_faults:
        factory = FAULTS[name]
        if factory is not None:
            desk.fake.faults.on_create(factory())
    if lookup_misses:
        desk.fake.faults.on_fetch_order(Fault.not_found(), times=lookup_misses)
    with monkeypatch.context() as patch:
        kill_the_worker_after_accept(patch, 1 if crash_after_accept else 0)
        body = (
            dict(MARKET_BUY)
            if order_type == "market"
            else {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.01", "price": "60000"}
        )
        placed = desk.place(body)
        task = {
            "kind": "submit",
            "tenant_id": desk.caller.tenant_id,
            "order_id": placed["id"],
            "account_id": desk.account,
        }
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
