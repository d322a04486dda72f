"""Manual orders on the paper exchange, end to end through the API, the queue and the worker."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi
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


def _key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(8)}


def test_market_order_fills_on_paper(orders_a: LambdaApi, rig: TradingRig, tenant_a: Caller, bus_tap: BusTap) -> None:
    placed = orders_a.post("/orders", body={"symbol": "BTC/USDT", "side": "buy", "type": "market",
                                            "amount": "0.01"}, headers=_key())
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
