"""Manual orders on the paper exchange, end to end through the API, the queue and the worker."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi, idempotency_header
from tests.support.aws import TestCloud
from tests.support.trading import TradingRig


@pytest.fixture(scope="session")
def orders_handler() -> Any:
    from functions.orders_api.app import lambda_handler

    return lambda_handler


@pytest.fixture
def orders_a(orders_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(orders_handler, tenant_a)


@pytest.fixture
def rig(test_cloud: TestCloud) -> TradingRig:
    return TradingRig(test_cloud)


def test_market_order_fills_on_paper(orders_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap) -> None:
    placed = orders_a.post(
        "/orders",
        body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.01"},
        headers=idempotency_header(),
    )
    assert placed.status == 202, placed.text
    assert placed.json["status"] == "PENDING_SUBMIT"
    assert rig.drain() == 1
    order = orders_a.get(f"/orders/{placed.json['id']}").json
    assert order["status"] == "FILLED", order
    assert order["filled"] == "0.01"
    assert order["exchange_order_id"] == f"paper-{order['client_order_id']}"
    types = [e["type"] for e in bus_tap.of_tenant(tenant_a.tenant_id, expect=4)]
    assert types[-3:] == ["order.created", "order.submitted", "order.filled"]
    positions = orders_a.get("/positions").json
    assert positions["items"][0]["quantity"] == "0.01"


class SteeredPrices:
    """A paper price source the test moves by hand."""

    def __init__(self, prices: dict[str, str]) -> None:
        from decimal import Decimal

        self.prices = {k: Decimal(v) for k, v in prices.items()}

    def set(self, symbol: str, price: str) -> None:
        from decimal import Decimal

        self.prices[symbol] = Decimal(price)

    def price(self, symbol: str, timestamp_ms: int) -> Any:
        return self.prices[symbol]


@pytest.fixture
def steered(monkeypatch: pytest.MonkeyPatch) -> SteeredPrices:
    from shared.exchange import connect, paper

    source = SteeredPrices({"SOL/USDT": "100", "BTC/USDT": "60000"})
    monkeypatch.setattr(paper, "default_price_source", lambda: source)
    connect._instances.clear()
    return source


def test_resting_limit_order_fills_when_the_market_crosses(
    orders_a: LambdaApi, test_cloud: TestCloud, tenant_a: Caller, steered: SteeredPrices
) -> None:
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    placed = orders_a.post(
        "/orders",
        body={"symbol": "SOL/USDT", "side": "buy", "type": "limit", "amount": "2", "price": "98"},
        headers=idempotency_header(),
    )
    rig.drain()
    assert orders_a.get(f"/orders/{placed.json['id']}").json["status"] == "OPEN"
    rig.reconcile()
    assert orders_a.get(f"/orders/{placed.json['id']}").json["status"] == "OPEN"
    steered.set("SOL/USDT", "97.5")
    rig.reconcile()
    order = orders_a.get(f"/orders/{placed.json['id']}").json
    assert order["status"] == "FILLED" and order["average_price"] == "98"


@pytest.mark.parametrize(
    ("exit_price", "trigger", "realized"), [("85", "stop_loss", "-30"), ("125", "take_profit", "50")]
)
def test_stop_loss_and_take_profit_exit_once(
    orders_a: LambdaApi,
    test_cloud: TestCloud,
    tenant_a: Caller,
    steered: SteeredPrices,
    exit_price: str,
    trigger: str,
    realized: str,
) -> None:
    from shared.orders.models import get_order

    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    placed = orders_a.post(
        "/orders",
        body={
            "symbol": "SOL/USDT",
            "side": "buy",
            "type": "market",
            "amount": "2",
            "stop_loss": "90",
            "take_profit": "120",
        },
        headers=idempotency_header(),
    )
    rig.drain()
    entry = orders_a.get(f"/orders/{placed.json['id']}").json
    assert entry["status"] == "FILLED"
    rig.reconcile()
    assert get_order(tenant_a.tenant_id, entry["id"]).protection is None  # type: ignore[union-attr]
    steered.set("SOL/USDT", exit_price)
    rig.reconcile()
    rig.reconcile()  # a second pass must not exit twice
    rig.drain()
    record = get_order(tenant_a.tenant_id, entry["id"])
    assert record is not None and record.protection == trigger
    exit_order = orders_a.get(f"/orders/{record.exit_order_id}").json
    assert exit_order["status"] == "FILLED" and exit_order["side"] == "sell" and exit_order["amount"] == "2"
    exits = [o for o in orders_a.get("/orders").json["items"] if o["side"] == "sell"]
    assert len(exits) == 1
    position = orders_a.get("/positions").json["items"][0]
    assert position["quantity"] == "0"
    gross = float(realized)
    assert abs(float(position["realized_pnl"]) - gross) < abs(gross) * 0.02  # fees and slippage only


def test_an_order_whose_task_was_lost_is_queued_again_by_the_reconciler(
    orders_a: LambdaApi, test_cloud: TestCloud, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.orders import intents

    def broken_queue(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("SQS unreachable")

    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    with monkeypatch.context() as patch:
        patch.setattr(intents, "enqueue", broken_queue)
        placed = orders_a.post(
            "/orders",
            body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
            headers=idempotency_header(),
        )
    assert placed.status == 202  # the intent is recorded even though its task was not queued
    assert rig.drain() == 0
    rig.reconcile()
    rig.drain()
    assert orders_a.get(f"/orders/{placed.json['id']}").json["status"] == "FILLED"


def test_a_queue_backlog_is_not_multiplied_by_the_reconciler(
    orders_a: LambdaApi, test_cloud: TestCloud, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders waiting their turn in the queue (a backlog) are left alone: re-queuing them every
    minute would only make the backlog longer. Past the requeue delay, one more task is sent."""
    from datetime import timedelta

    from shared.clock import utc_now
    from shared.config import get_settings
    from shared.orders import tasks

    requeued: list[str] = []
    real_enqueue = tasks.enqueue

    def counting(task: Any, **kwargs: Any) -> None:
        requeued.append(task.order_id)
        real_enqueue(task, **kwargs)

    monkeypatch.setattr("shared.orders.reconciliation.enqueue", counting)
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    placed = [
        orders_a.post(
            "/orders",
            body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
            headers=idempotency_header(),
        ).json
        for _ in range(3)
    ]
    for minutes in (1, 2, 5, 10):
        rig.reconcile(now=utc_now() + timedelta(minutes=minutes))
    assert requeued == []
    delay = get_settings().pending_submit_requeue_seconds
    rig.reconcile(now=utc_now() + timedelta(seconds=delay + 60))
    rig.reconcile(now=utc_now() + timedelta(seconds=delay + 120))
    assert sorted(requeued) == sorted(p["id"] for p in placed)  # once each, not once per run
    rig.drain()
    assert {orders_a.get(f"/orders/{p['id']}").json["status"] for p in placed} == {"FILLED"}


def test_cancelling_a_terminal_order_is_a_409_that_says_so(
    orders_a: LambdaApi, test_cloud: TestCloud, tenant_a: Caller
) -> None:
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    placed = orders_a.post(
        "/orders",
        body={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
        headers=idempotency_header(),
    )
    rig.drain()
    assert orders_a.get(f"/orders/{placed.json['id']}").json["status"] == "FILLED"
    reply = orders_a.post(f"/orders/{placed.json['id']}/cancel")
    assert reply.status == 409, reply.text
    assert reply.json["error"]["code"] == "order_not_cancelable"
    assert reply.json["error"]["details"]["status"] == "FILLED"


def test_money_is_echoed_as_plain_decimal_strings(orders_a: LambdaApi, test_cloud: TestCloud, tenant_a: Caller) -> None:
    """A price sent as 5.9e4 comes back as "59000", never "5.9E+4"."""
    raw = '{"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": 1e-3, "price": 5.9e4}'
    placed = orders_a.post("/orders", raw_body=raw, headers=idempotency_header())
    assert placed.status == 202, placed.text
    assert (placed.json["amount"], placed.json["price"]) == ("0.001", "59000")
    assert orders_a.get(f"/orders/{placed.json['id']}").json["price"] == "59000"
