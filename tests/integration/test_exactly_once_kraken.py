"""Exactly-once order placement on Kraken: what only Kraken's wire shows, through ccxt and the
fake Kraken. The cases every exchange shares run on each of them in test_exactly_once.py.

Kraken differs from Binance where it matters here: our client ids are UUIDs sent as `cl_ord_id`;
ccxt cannot look an order up by client id (the adapter searches open, then closed, orders
instead); AddOrder answers without the order's state; cancels answer `{"count": 1}`; private
calls carry nonces; order answers name pairs by altname ("XBTUSD"). Every test ends by checking
the history: one terminal state per intent, at most one exchange order per intent, none the
exchange holds unknown to us.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support.desks import FakeDesk as Desk
from tests.support.desks import desk_fixture, kill_the_worker_after_accept
from tests.support.fake_kraken import Endpoint, Fault
from tests.support.trading import exchange_api_for

desk = desk_fixture("kraken")
MARKET_BUY = {"symbol": "BTC/USD", "side": "buy", "type": "market", "amount": "0.01"}
LIMIT_BUY = {"symbol": "BTC/USD", "side": "buy", "type": "limit", "amount": "0.02", "price": "59000"}


def test_account_registration_is_checked_with_a_signed_balance_call(desk: Desk) -> None:
    check = desk.fake.requests_to(Endpoint.BALANCE_EX)[0]
    assert (check.api_key_valid, check.signature_valid, check.nonce_valid) == (True, True, True)
    balances = exchange_api_for(desk.caller).get(f"/exchange-accounts/{desk.account}/balances")
    assert balances.status == 200, balances.text
    assets = balances.json["balances"]
    assert Decimal(assets["BTC"]["total"]) == 10 and Decimal(assets["USD"]["free"]) == 1000000


def test_request_carries_our_uuid_client_id_precision_and_a_valid_signature(desk: Desk) -> None:
    placed = desk.place(
        {"symbol": "BTC/USD", "side": "buy", "type": "limit", "amount": "0.01234567", "price": "59000.5"}
    )
    desk.rig.drain()
    [request] = desk.creates_for(placed["client_order_id"])
    assert len(placed["client_order_id"]) == 36 and placed["client_order_id"].count("-") == 4
    assert request.body["cl_ord_id"] == placed["client_order_id"] and "userref" not in request.body
    assert (request.body["pair"], request.body["volume"], request.body["price"]) == (
        "XXBTZUSD",
        "0.01234567",
        "59000.5",
    )
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


@pytest.mark.parametrize(
    ("create_faults", "lookup_misses", "crash_after_accept"),
    SCHEDULES,
    ids=["+".join(s[0]) + f"-lag{s[1]}" + ("-crash" if s[2] else "") for s in SCHEDULES],
)
def test_history_invariant_under_combined_fault_schedules(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, create_faults: list[str], lookup_misses: int, crash_after_accept: bool
) -> None:
    """At most one exchange order per intent and none lost, whatever the combination, including
    replica lag longer than the not-found threshold (the order is adopted when it shows)."""
    from shared.clock import utc_now

    for name in create_faults:
        factory = FAULTS[name]
        if factory is not None:
            desk.fake.faults.on_add_order(factory())
    if lookup_misses:
        desk.fake.faults.on_lookup(times=lookup_misses)
    with monkeypatch.context() as patch:
        kill_the_worker_after_accept(patch, 1 if crash_after_accept else 0)
        placed = desk.place()
        desk.rig.settle(rounds=10)
    desk.fake.faults.clear()  # the lag is over
    desk.rig.reconcile(now=utc_now() + timedelta(hours=1))
    desk.rig.drain()
    final = desk.assert_exactly_once(placed["id"])
    assert final["status"] in {"FILLED", "REJECTED", "NOT_PLACED"}
    assert len(desk.creates_for(placed["client_order_id"])) <= 1 + create_faults.count("rate_limited")
