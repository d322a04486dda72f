"""Risk rules on the paper exchange: each rule rejects the order in the trade worker with reason
`risk:<rule>`, publishes risk.limit_breached, and nothing reaches the exchange. The kill switch
stops bots, cancels open orders and blocks new ones until released."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

import boto3
import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi, idempotency_header
from tests.support.aws import TestCloud
from tests.support.payloads import bot
from tests.support.trading import TradingRig, exchange_api_for, orders_api_for

CENT = Decimal("0.01")


# ---------------------------------------------------------------- helpers and fixtures


@pytest.fixture
def rig(test_cloud: TestCloud) -> TradingRig:
    trading = TradingRig(test_cloud)
    trading.drain()  # start from an empty queue
    return trading


@pytest.fixture
def orders_a(tenant_a: Caller) -> LambdaApi:
    return orders_api_for(tenant_a)


@pytest.fixture
def accounts_a(tenant_a: Caller) -> LambdaApi:
    return exchange_api_for(tenant_a)


def _last_price(accounts: LambdaApi, symbol: str = "BTC-USDT") -> Decimal:
    reply = accounts.get(f"/markets/paper/{symbol}")
    assert reply.status == 200, reply.text
    return Decimal(reply.json["last"])


def _balances(accounts: LambdaApi) -> dict[str, Any]:
    reply = accounts.get("/exchange-accounts/paper/balances")
    assert reply.status == 200, reply.text
    balances: dict[str, Any] = reply.json["balances"]
    return balances


def _paper_orders(tenant_id: str) -> list[str]:
    """Client order ids of every order the tenant's paper exchange ever received."""
    items = boto3.client("dynamodb").query(
        TableName=os.environ["PAPER_ACCOUNTS_TABLE"],
        KeyConditionExpression="tenant_id = :t AND begins_with(#i, :p)",
        ExpressionAttributeNames={"#i": "item"},
        ExpressionAttributeValues={":t": {"S": tenant_id}, ":p": {"S": "ord#"}},
        ConsistentRead=True,
    )["Items"]
    return [item["item"]["S"].removeprefix("ord#") for item in items]


def _place(orders: LambdaApi, **body: Any) -> str:
    reply = orders.post(
        "/orders",
        body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001", **body},
        headers=idempotency_header(),
    )
    assert reply.status == 202, reply.text
    order_id: str = reply.json["id"]
    return order_id


def _order(orders: LambdaApi, order_id: str) -> dict[str, Any]:
    reply = orders.get(f"/orders/{order_id}")
    assert reply.status == 200, reply.text
    order: dict[str, Any] = reply.json
    return order


def _new_bot(bots: LambdaApi, **risk: Any) -> str:
    limits = {"max_position_notional": 100000, "max_daily_loss": 1000, "max_open_orders": 5, **risk}
    reply = bots.post("/bots", body=bot(risk=limits), headers=idempotency_header())
    assert reply.status == 201, reply.text
    bot_id: str = reply.json["id"]
    return bot_id


def _bot_intent(tenant: Caller, bot_id: str, **order: Any) -> str:
    """What a bot's strategy does: record an order intent for the bot (the API only takes manual
    orders)."""
    from shared.orders.intents import create_intent
    from shared.orders.schemas import OrderCreate

    request = OrderCreate.model_validate(
        {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001", **order}
    )
    record = create_intent(
        tenant_id=tenant.tenant_id,
        source=bot_id,
        intent_id=secrets.token_hex(8),
        bot_id=bot_id,
        account_id="paper",
        exchange_id="paper",
        request=request,
    )
    return record.order_id


def _events(bus: BusTap, tenant_id: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The tenant's events, once `done(events)` holds (they travel through EventBridge and SQS)."""
    deadline = time.monotonic() + 5
    while True:
        events = bus.of_tenant(tenant_id)
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def _of(events: list[dict[str, Any]], event_type: str, order_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == event_type and e["data"].get("order_id") == order_id]


def _assert_rejected_by(
    orders: LambdaApi, bus: BusTap, tenant: Caller, order_id: str, rule: str, bot_id: str | None = None
) -> dict[str, Any]:
    order = _order(orders, order_id)
    assert order["status"] == "REJECTED", order
    assert order["reason"] == f"risk:{rule}", order
    assert order["exchange_order_id"] is None and order["filled"] == "0"
    events = _events(
        bus,
        tenant.tenant_id,
        lambda found: bool(_of(found, "risk.limit_breached", order_id) and _of(found, "order.rejected", order_id)),
    )
    breaches = _of(events, "risk.limit_breached", order_id)
    assert len(breaches) == 1, events
    data: dict[str, Any] = breaches[0]["data"]
    assert data["rule"] == rule and data["bot_id"] == bot_id and data["message"]
    rejected = _of(events, "order.rejected", order_id)
    assert len(rejected) == 1 and rejected[0]["data"]["reason"] == f"risk:{rule}"
    # Never sent: the paper exchange has no order with this client id.
    assert order["client_order_id"] not in _paper_orders(tenant.tenant_id)
    return data


# ---------------------------------------------------------------- tenant-wide rules


def test_a_kill_switch_engaged_while_an_order_is_validated_still_refuses_it(
    orders_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch is checked in the intent's own transaction, not read before: engaged while the
    order is being checked against the market (after any earlier read could have run), the order
    is refused all the same and nothing is written."""
    from shared.orders import service

    real_validate = service.validate_against_market

    def engage_meanwhile(*args: Any, **kwargs: Any) -> None:
        real_validate(*args, **kwargs)
        from shared.tenants.models import TenantRecord, get_tenant

        tenant = get_tenant(tenant_a.tenant_id)
        assert tenant is not None
        tenant.update(actions=[TenantRecord.kill_switch.set(True)])

    monkeypatch.setattr(service, "validate_against_market", engage_meanwhile)
    refused = orders_a.post(
        "/orders",
        body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
        headers=idempotency_header(),
    )
    assert refused.status == 409 and refused.json["error"]["code"] == "kill_switch_engaged", refused.text
    assert orders_a.get("/orders").json["items"] == []


def test_kill_switch_rejects_new_orders_until_released(
    orders_a: LambdaApi, accounts_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    engaged = orders_a.post("/risk/kill-switch")
    assert engaged.status == 200, engaged.text
    assert engaged.json == {"kill_switch": True, "bots_stopped": 0, "orders_canceling": 0}
    assert orders_a.get("/risk/settings").json["kill_switch"] is True
    before = _balances(accounts_a)

    refused = orders_a.post(
        "/orders",
        body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
        headers=idempotency_header(),
    )
    assert refused.status == 409 and refused.json["error"]["code"] == "kill_switch_engaged"
    assert orders_a.get("/orders").json["items"] == []  # refused at the door: nothing written
    # Intents that do not come through the API (a bot's, a signal's) meet the worker's rule.
    from shared.orders.intents import create_intent
    from shared.orders.schemas import OrderCreate

    blocked = create_intent(
        tenant_id=tenant_a.tenant_id,
        source="signal:tradingview",
        intent_id=secrets.token_hex(8),
        bot_id=None,
        account_id="paper",
        exchange_id="paper",
        request=OrderCreate.model_validate({"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"}),
    ).order_id
    rig.drain()
    _assert_rejected_by(orders_a, bus_tap, tenant_a, blocked, "kill_switch")
    assert _balances(accounts_a) == before

    # Starting a bot is refused too, so the switch cannot be walked around.
    from functions.bots_api.app import lambda_handler as bots_handler

    bots = LambdaApi(bots_handler, tenant_a)
    created = bots.post("/bots", body=bot(), headers=idempotency_header())
    assert created.status == 201, created.text
    start = bots.post(f"/bots/{created.json['id']}/start")
    assert start.status == 409 and start.json["error"]["code"] == "kill_switch_engaged"
    assert bots.get(f"/bots/{created.json['id']}").json["status"] == "stopped"

    released = orders_a.post("/risk/kill-switch", body={"engaged": False})
    assert released.status == 200 and released.json["kill_switch"] is False
    allowed = _place(orders_a)
    rig.drain()
    assert _order(orders_a, allowed)["status"] == "FILLED"
    assert bots.post(f"/bots/{created.json['id']}/start").status == 200
    wanted = {"risk.kill_switch_engaged", "risk.kill_switch_released"}
    events = _events(bus_tap, tenant_a.tenant_id, lambda found: wanted <= {e["type"] for e in found})
    assert wanted <= {e["type"] for e in events}


def test_symbol_allowlist(
    orders_a: LambdaApi, accounts_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    settings = orders_a.request(
        "PUT", "/risk/settings", body={"symbol_allowlist": ["ETH/USDT"], "max_price_deviation_pct": 5}
    )
    assert settings.status == 200, settings.text
    assert settings.json["symbol_allowlist"] == ["ETH/USDT"]
    before = _balances(accounts_a)

    btc = _place(orders_a)
    rig.drain()
    _assert_rejected_by(orders_a, bus_tap, tenant_a, btc, "symbol_allowlist")
    assert _balances(accounts_a) == before

    eth = _place(orders_a, symbol="ETH/USDT", amount="0.01")
    rig.drain()
    assert _order(orders_a, eth)["status"] == "FILLED"


def test_price_deviation(
    orders_a: LambdaApi, accounts_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    last = _last_price(accounts_a)
    far = (last * Decimal("0.8")).quantize(CENT, rounding=ROUND_DOWN)  # 20% below the market
    before = _balances(accounts_a)
    order_id = _place(orders_a, type="limit", price=str(far))
    rig.drain()
    data = _assert_rejected_by(orders_a, bus_tap, tenant_a, order_id, "price_deviation")
    assert data["limit"] == "5%"
    assert Decimal("19") < Decimal(data["observed"].rstrip("%")) < Decimal("21")
    assert _balances(accounts_a) == before  # nothing reserved

    # The same distance is accepted (and rests on the book) once the tenant allows it.
    widened = orders_a.request("PUT", "/risk/settings", body={"max_price_deviation_pct": 25})
    assert widened.status == 200 and Decimal(widened.json["max_price_deviation_pct"]) == 25
    resting = _place(orders_a, type="limit", price=str(far))
    rig.drain()
    assert _order(orders_a, resting)["status"] == "OPEN"


# ---------------------------------------------------------------- per-bot rules


def test_max_open_orders(
    orders_a: LambdaApi, accounts_a: LambdaApi, bots_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    bot_id = _new_bot(bots_a, max_open_orders=1)
    below = (_last_price(accounts_a) * Decimal("0.97")).quantize(CENT, rounding=ROUND_DOWN)
    first = _bot_intent(tenant_a, bot_id, type="limit", price=str(below))
    rig.drain()
    assert _order(orders_a, first)["status"] == "OPEN"
    before = _balances(accounts_a)

    second = _bot_intent(tenant_a, bot_id, type="limit", price=str(below))
    rig.drain()
    data = _assert_rejected_by(orders_a, bus_tap, tenant_a, second, "max_open_orders", bot_id=bot_id)
    assert (data["limit"], data["observed"]) == ("1", "1")
    assert _balances(accounts_a) == before
    # A manual order is not the bot's: its own (no) limit applies.
    manual = _place(orders_a, type="limit", price=str(below))
    rig.drain()
    assert _order(orders_a, manual)["status"] == "OPEN"


def test_max_position_notional(
    orders_a: LambdaApi, accounts_a: LambdaApi, bots_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    last = _last_price(accounts_a)
    amount = Decimal("0.001")
    limit = (last * amount * Decimal("1.5")).quantize(Decimal(1))  # room for one buy, not two
    bot_id = _new_bot(bots_a, max_position_notional=str(limit))
    first = _bot_intent(tenant_a, bot_id, amount=str(amount))
    rig.drain()
    assert _order(orders_a, first)["status"] == "FILLED"
    before = _balances(accounts_a)

    second = _bot_intent(tenant_a, bot_id, amount=str(amount))
    rig.drain()
    data = _assert_rejected_by(orders_a, bus_tap, tenant_a, second, "max_position_notional", bot_id=bot_id)
    assert Decimal(data["limit"]) == limit and Decimal(data["observed"]) > limit
    assert _balances(accounts_a) == before

    # Getting out is always allowed.
    exit_order = _bot_intent(tenant_a, bot_id, side="sell", amount=str(amount))
    rig.drain()
    assert _order(orders_a, exit_order)["status"] == "FILLED"


def test_max_daily_loss_blocks_new_exposure_but_not_reducing(
    orders_a: LambdaApi, accounts_a: LambdaApi, bots_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    from shared.clock import utc_now
    from shared.positions.models import PositionRecord, daily_key, get_position_row

    bot_id = _new_bot(bots_a, max_daily_loss=10)
    opening = _bot_intent(tenant_a, bot_id, amount="0.001")
    rig.drain()
    assert _order(orders_a, opening)["status"] == "FILLED"

    # The bot has lost 25 USDT today (seeded in its daily PnL row).
    key = daily_key(bot_id, utc_now())
    row = get_position_row(tenant_a.tenant_id, key) or PositionRecord(
        tenant_id=tenant_a.tenant_id, position_key=key, scope=bot_id
    )
    row.realized_pnl = "-25"
    row.save()
    before = _balances(accounts_a)

    more = _bot_intent(tenant_a, bot_id, amount="0.001")
    rig.drain()
    data = _assert_rejected_by(orders_a, bus_tap, tenant_a, more, "max_daily_loss", bot_id=bot_id)
    assert Decimal(data["limit"]) == 10 and Decimal(data["observed"]) == 25
    assert _balances(accounts_a) == before

    # Selling what it holds reduces the position: allowed although past the limit.
    reducing = _bot_intent(tenant_a, bot_id, side="sell", amount="0.001")
    rig.drain()
    assert _order(orders_a, reducing)["status"] == "FILLED"
    # Selling more would open a short, new exposure: rejected again.
    shorting = _bot_intent(tenant_a, bot_id, side="sell", amount="0.001")
    rig.drain()
    _assert_rejected_by(orders_a, bus_tap, tenant_a, shorting, "max_daily_loss", bot_id=bot_id)


def test_a_loss_under_the_limit_does_not_block(
    orders_a: LambdaApi, bots_a: LambdaApi, rig: TradingRig, tenant_a: Caller
) -> None:
    from shared.clock import utc_now
    from shared.positions.models import PositionRecord, daily_key

    bot_id = _new_bot(bots_a, max_daily_loss=10)
    PositionRecord(
        tenant_id=tenant_a.tenant_id, position_key=daily_key(bot_id, utc_now()), scope=bot_id, realized_pnl="-9.99"
    ).save()
    order_id = _bot_intent(tenant_a, bot_id, amount="0.001")
    rig.drain()
    assert _order(orders_a, order_id)["status"] == "FILLED"


# ---------------------------------------------------------------- kill switch with a running bot


def test_kill_switch_stops_bots_and_cancels_open_orders(
    orders_a: LambdaApi, accounts_a: LambdaApi, bots_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap
) -> None:
    bot_id = _new_bot(bots_a)
    started = bots_a.post(f"/bots/{bot_id}/start")
    assert started.status == 200 and started.json["status"] == "running", started.text
    widened = orders_a.request("PUT", "/risk/settings", body={"max_price_deviation_pct": 20})
    assert widened.status == 200, widened.text
    below = (_last_price(accounts_a) * Decimal("0.9")).quantize(CENT, rounding=ROUND_DOWN)
    resting = _place(orders_a, type="limit", price=str(below))
    rig.drain()
    assert _order(orders_a, resting)["status"] == "OPEN"
    assert Decimal(_balances(accounts_a)["USDT"]["used"]) > 0  # funds reserved on the exchange

    engaged = orders_a.post("/risk/kill-switch")
    assert engaged.status == 200, engaged.text
    assert engaged.json == {"kill_switch": True, "bots_stopped": 1, "orders_canceling": 1}
    rig.drain()

    assert bots_a.get(f"/bots/{bot_id}").json["status"] == "stopped"
    canceled = _order(orders_a, resting)
    assert canceled["status"] == "CANCELED" and canceled["filled"] == "0"
    usdt = _balances(accounts_a)["USDT"]
    assert (Decimal(usdt["free"]), Decimal(usdt["used"])) == (Decimal(10000), 0)  # reservation released

    wanted = {"risk.kill_switch_engaged", "bot.stopped", "order.canceled"}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in _events(bus_tap, tenant_a.tenant_id, lambda found: wanted <= {e["type"] for e in found}):
        by_type.setdefault(event["type"], []).append(event)
    assert wanted <= set(by_type), sorted(by_type)
    assert by_type["risk.kill_switch_engaged"][0]["data"] == {"engaged": True, "bots_stopped": 1, "orders_canceling": 1}
    assert [e["data"]["bot_id"] for e in by_type["bot.stopped"]] == [bot_id]
    assert [e["data"]["order_id"] for e in by_type["order.canceled"]] == [resting]

    # New orders are refused while engaged ...
    refused = orders_a.post(
        "/orders",
        body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
        headers=idempotency_header(),
    )
    assert refused.status == 409 and refused.json["error"]["code"] == "kill_switch_engaged"
    # ... and a bot cannot trade either.
    from_bot = _bot_intent(tenant_a, bot_id)
    rig.drain()
    _assert_rejected_by(orders_a, bus_tap, tenant_a, from_bot, "kill_switch", bot_id=bot_id)

    assert orders_a.post("/risk/kill-switch", body={"engaged": False}).json["kill_switch"] is False
    after = _place(orders_a)
    rig.drain()
    assert _order(orders_a, after)["status"] == "FILLED"
