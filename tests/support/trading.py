"""Drive the trading path in tests: the template's real SQS pollers and handlers on moto, and
exchange accounts pointed at the fake Binance server."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from localcloud.functions import FakeLambdaContext
from localcloud.pollers import SqsPoller, sqs_pollers
from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.fake_exchange.engine import MARKETS_PATH
from tests.support.fake_exchange.server import FakeBinance


class TradingRig:
    """The trade worker and DLQ alerter pollers plus the reconciler, as the template wires them.

    The trade queue's visibility timeout is set to 0 for tests, so a task that fails (or whose
    worker "crashes") is redelivered on the next poll instead of three minutes later; the
    dead-letter redrive after 5 receives is unchanged.
    """

    def __init__(self, cloud: TestCloud, tenant_id: str | None = None) -> None:
        self.cloud = cloud
        self.tenant_id = tenant_id  # reconcile only this tenant's orders: other tests leave theirs
        pollers = sqs_pollers(cloud.resolver, cloud.functions, cloud.endpoint, threading.Event())
        self.worker: SqsPoller = next(p for p in pollers if p.function.logical_id == "TradeWorkerFunction")
        self.dlq: SqsPoller = next(p for p in pollers if p.function.logical_id == "TradeDlqAlerterFunction")
        self.sqs = boto3.client("sqs")
        self.sqs.set_queue_attributes(QueueUrl=self.worker.queue_url, Attributes={"VisibilityTimeout": "0"})

    def drain(self, rounds: int = 30) -> int:
        """Run the worker (then the DLQ alerter) until both queues are empty; returns tasks seen."""
        handled = 0
        for _ in range(rounds):
            received = self.worker.poll_once(wait_seconds=0)
            handled += received
            if not received:
                break
        for _ in range(rounds):
            if not self.dlq.poll_once(wait_seconds=0):
                break
        return handled

    def reconcile(self, now: datetime | None = None) -> Any:
        """One reconciler run, optionally as if at `now` (to get past submit deadlines)."""
        from shared.orders.reconciliation import reconcile_open_orders

        if now is None and self.tenant_id is None:
            handler = self.cloud.functions["OrderReconcilerFunction"].handler()
            return handler({}, FakeLambdaContext("order-reconciler", 1024, 120))
        return reconcile_open_orders(now=now, tenant_ids=None if self.tenant_id is None else {self.tenant_id})

    def settle(self, *, rounds: int = 8, advance: timedelta = timedelta(minutes=1)) -> None:
        """Alternate worker and reconciler, moving the reconciler's clock forward each round,
        until nothing is left to do: what a few minutes of production would do."""
        from shared.clock import utc_now

        for i in range(rounds):
            self.drain()
            self.reconcile(now=utc_now() + advance * (i + 1))
        self.drain()

    def send_raw(self, body: str, group: str = "tests") -> None:
        self.sqs.send_message(QueueUrl=self.worker.queue_url, MessageBody=body, MessageGroupId=group,
                              MessageDeduplicationId=secrets.token_hex(8))


@pytest.fixture
def point_binance_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`point_binance_at(server)` sends every ccxt binance call of the product code to `server`."""
    from shared.exchange import ccxt_adapter, connect
    from shared.exchange.ccxt_adapter import EndpointOverride

    def point(server: FakeBinance, timeout_ms: int = 400) -> None:
        from shared.config import get_settings

        override = {"binance": EndpointOverride(base_url=server.base_url, markets_file=str(MARKETS_PATH))}
        settings = get_settings().model_copy(update={"exchange_timeout_ms": timeout_ms})
        monkeypatch.setattr(connect, "endpoint_overrides", lambda: override)
        monkeypatch.setattr(connect, "get_settings", lambda: settings)
        connect._instances.clear()
        ccxt_adapter._markets_cache.clear()

    yield point
    connect._instances.clear()
    ccxt_adapter._markets_cache.clear()


def register_binance_account(exchange_api: LambdaApi, server: FakeBinance, label: str = "fake binance") -> str:
    """Register an account with the fake's credentials through the real API; returns its id."""
    reply = exchange_api.post("/exchange-accounts", body={
        "exchange": "binance", "label": label, "api_key": server.api_key, "secret": server.secret})
    assert reply.status == 201, reply.text
    account_id: str = reply.json["id"]
    return account_id


def exchange_api_for(caller: Caller) -> LambdaApi:
    from functions.exchange_accounts_api.app import lambda_handler

    return LambdaApi(lambda_handler, caller)


def orders_api_for(caller: Caller) -> LambdaApi:
    from functions.orders_api.app import lambda_handler

    return LambdaApi(lambda_handler, caller)
