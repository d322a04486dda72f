"""Drive the trading path in tests: the template's real SQS pollers and handlers on moto, and
exchange accounts pointed at the fake Binance and Kraken servers."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud.functions import FakeLambdaContext
from localcloud.pollers import SqsPoller, sqs_pollers
from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.fake_exchange.engine import MARKETS_PATH
from tests.support.fake_kraken.engine import MARKETS_PATH as KRAKEN_MARKETS_PATH


def drain_poller(poller: SqsPoller, rounds: int) -> int:
    """Poll (without waiting) until a poll finds the queue empty, at most `rounds` times; returns
    the messages handled."""
    handled = 0
    for _ in range(rounds):
        received = poller.poll_once(wait_seconds=0)
        handled += received
        if not received:
            break
    return handled


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
        handled = drain_poller(self.worker, rounds)
        drain_poller(self.dlq, rounds)
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
        self.sqs.send_message(
            QueueUrl=self.worker.queue_url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=secrets.token_hex(8),
        )


PointAt = Callable[..., None]


@contextmanager
def _pointing(
    monkeypatch: pytest.MonkeyPatch, exchange_id: str, markets_file: Path, throttle: bool
) -> Iterator[PointAt]:
    """`point(server)` sends every ccxt call the product code makes to `exchange_id` to `server`,
    with markets from `markets_file` and a short timeout (so a delay fault of a second or two is a
    client timeout). Overrides already in force for other exchanges are kept; cached exchange
    instances and markets are dropped before and after, so nothing leaks between tests."""
    from shared.exchange import ccxt_adapter, connect
    from shared.exchange.ccxt_adapter import EndpointOverride

    def point(server: Any, timeout_ms: int = 400) -> None:
        from shared.config import get_settings

        overrides = {
            **connect.endpoint_overrides(),
            exchange_id: EndpointOverride(base_url=server.base_url, markets_file=str(markets_file), throttle=throttle),
        }
        settings = replace(get_settings(), exchange_timeout_ms=timeout_ms)
        monkeypatch.setattr(connect, "endpoint_overrides", lambda: overrides)
        monkeypatch.setattr(connect, "get_settings", lambda: settings)
        connect._instances.clear()
        ccxt_adapter._markets_cache.clear()

    yield point
    connect._instances.clear()
    ccxt_adapter._markets_cache.clear()


@pytest.fixture
def point_binance_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[PointAt]:
    """`point_binance_at(server)`: the product's binance calls go to a FakeBinance."""
    with _pointing(monkeypatch, "binance", MARKETS_PATH, throttle=True) as point:
        yield point


@pytest.fixture
def point_kraken_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[PointAt]:
    """`point_kraken_at(server)`: the product's kraken calls go to a FakeKraken, with ccxt's
    client-side throttle off (for Kraken it waits 3 s before every private call)."""
    with _pointing(monkeypatch, "kraken", KRAKEN_MARKETS_PATH, throttle=False) as point:
        yield point


def register_account(exchange_api: LambdaApi, exchange_id: str, server: Any, label: str = "fake exchange") -> str:
    """Register an account with a fake's credentials through the real API (which checks them with
    an authenticated balance call); returns its id."""
    reply = exchange_api.post(
        "/exchange-accounts",
        body={"exchange": exchange_id, "label": label, "api_key": server.api_key, "secret": server.secret},
    )
    assert reply.status == 201, reply.text
    account_id: str = reply.json["id"]
    return account_id


class Desk:
    """One tenant trading through one exchange account on a fake exchange, with the history
    invariant every exactly-once test ends on.

    `client_id_field` names the request field carrying our client order id on the exchange's
    create call; `exchange_order_id` reads the exchange's id off one of the fake's orders.
    """

    def __init__(
        self,
        caller: Caller,
        account: str,
        fake: Any,
        rig: TradingRig,
        *,
        default_order: dict[str, Any],
        client_id_field: str,
        exchange_order_id: Callable[[Any], str],
    ) -> None:
        self.caller, self.account, self.fake, self.rig = caller, account, fake, rig
        self.api = orders_api_for(caller)
        self.default_order = default_order
        self.client_id_field = client_id_field
        self.exchange_order_id = exchange_order_id

    def place(self, body: dict[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
        reply = self.api.post(
            "/orders",
            body={**(body or self.default_order), "exchange_account_id": self.account},
            headers={"Idempotency-Key": key or secrets.token_hex(8)},
        )
        assert reply.status == 202, reply.text
        order: dict[str, Any] = reply.json
        return order

    def order(self, order_id: str) -> dict[str, Any]:
        reply = self.api.get(f"/orders/{order_id}")
        assert reply.status == 200
        order: dict[str, Any] = reply.json
        return order

    def creates_for(self, client_order_id: str) -> list[Any]:
        """Every create request that carried this client order id, accepted or not."""
        return [r for r in self.fake.order_requests() if r.params.get(self.client_id_field) == client_order_id]

    def assert_exactly_once(self, order_id: str) -> dict[str, Any]:
        """The history invariant: one terminal state, at most one exchange order, none lost."""
        order = self.order(order_id)
        held = self.fake.orders_with_client_id(order["client_order_id"])
        assert len(held) <= 1, f"the exchange holds {len(held)} orders for one intent"
        assert order["status"] in {
            "FILLED",
            "CANCELED",
            "REJECTED",
            "EXPIRED",
            "NOT_PLACED",
            "OPEN",
            "PARTIALLY_FILLED",
        }, order
        if held:
            assert order["status"] not in {"REJECTED", "NOT_PLACED"}, "the exchange holds an order we gave up on"
            assert order["exchange_order_id"] == self.exchange_order_id(held[0])
        else:
            assert order["status"] in {"REJECTED", "NOT_PLACED"}, "we record an order the exchange does not hold"
        return order


def exchange_api_for(caller: Caller) -> LambdaApi:
    from functions.exchange_accounts_api.app import lambda_handler

    return LambdaApi(lambda_handler, caller)


def orders_api_for(caller: Caller) -> LambdaApi:
    from functions.orders_api.app import lambda_handler

    return LambdaApi(lambda_handler, caller)


def run_the_same_task_twice_at_once(desk: Desk, order_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two trade workers handle one submit task at the same moment (a visibility timeout ran out
    mid-call). A barrier holds both just before the claim, so both have read the order as
    PENDING_SUBMIT: the overlap is forced, not hoped for."""
    from localcloud.functions import ensure_event_loop
    from shared.orders import changes

    barrier = threading.Barrier(2, timeout=30)
    real_claim = changes.mark_submitting

    def claim_together(order: Any, deadline_seconds: int) -> Any:
        barrier.wait()
        return real_claim(order, deadline_seconds)

    body = json.dumps(
        {"kind": "submit", "tenant_id": desk.caller.tenant_id, "order_id": order_id, "account_id": desk.account}
    )
    handler = desk.rig.cloud.functions["TradeWorkerFunction"].handler()
    event = {
        "Records": [
            {
                "messageId": secrets.token_hex(4),
                "receiptHandle": "r",
                "body": body,
                "attributes": {"MessageGroupId": "g", "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": desk.rig.worker.queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }

    def run() -> None:
        ensure_event_loop()
        handler(event, FakeLambdaContext("trade-worker", 1024, 30))

    with monkeypatch.context() as patch:
        patch.setattr(changes, "mark_submitting", claim_together)
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not barrier.broken, "the two workers did not both reach the claim"
