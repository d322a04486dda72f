"""Drive signal bots in tests and benchmarks: create and start one through the bots API, send
signals through the signals API handler (no authorizer context, as API Gateway sends it), and run
the signal worker and trade worker pollers the template wires."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3

from localcloud.pollers import SqsPoller, sqs_pollers
from tests.support.api import LambdaApi, Reply
from tests.support.aws import TestCloud
from tests.support.trading import TradingRig, drain_poller


def signal_strategy(**params: Any) -> dict[str, Any]:
    return {"type": "signal", "params": {"order_notional": "100", **params}}


RISK = {"max_position_notional": "100000", "max_daily_loss": "10000", "max_open_orders": 10}


@dataclass
class SignalBot:
    """A running signal bot and the secret its creation returned."""

    bot_id: str
    secret: str
    symbol: str
    bots: LambdaApi
    signals: LambdaApi

    def send(
        self,
        body: Any = None,
        *,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        bot_id: str | None = None,
    ) -> Reply:
        """POST /signals/{bot}: JSON `body`, or `text` as text/plain (how TradingView sends a plain message)."""
        url = f"/signals/{bot_id or self.bot_id}"
        if text is not None:
            return self.signals.post(url, raw_body=text, headers={"Content-Type": "text/plain", **(headers or {})})
        return self.signals.post(url, raw_body=json.dumps(body), headers=headers)


def create_signal_bot(
    bots: LambdaApi, signals: LambdaApi, *, symbol: str = "BTC/USDT", start: bool = True, **params: Any
) -> SignalBot:
    reply = bots.post(
        "/bots",
        body={"name": "signal bot", "symbol": symbol, "strategy": signal_strategy(**params), "risk": RISK},
        headers={"Idempotency-Key": secrets.token_hex(8)},
    )
    assert reply.status == 201, reply.text
    bot = SignalBot(reply.json["id"], reply.json["signal_secret"], symbol, bots, signals)
    if start:
        started = bots.post(f"/bots/{bot.bot_id}/start")
        assert started.status == 200, started.text
    return bot


class SignalRig:
    """The signal worker's poller, then the trade worker's (TradingRig): what a few seconds of
    production do after a signal is accepted. Visibility timeouts are 0 so a failure is retried
    on the next poll."""

    def __init__(self, cloud: TestCloud) -> None:
        pollers = sqs_pollers(cloud.resolver, cloud.functions, cloud.endpoint, threading.Event())
        self.worker: SqsPoller = next(p for p in pollers if p.function.logical_id == "SignalWorkerFunction")
        boto3.client("sqs").set_queue_attributes(QueueUrl=self.worker.queue_url, Attributes={"VisibilityTimeout": "0"})
        self.trading = TradingRig(cloud)

    def drain_signals(self, rounds: int = 20) -> int:
        """Signal tasks handled until the queue is empty."""
        return drain_poller(self.worker, rounds)

    def run(self) -> tuple[int, int]:
        """(signal tasks, trade tasks) handled until both queues are empty."""
        return self.drain_signals(), self.trading.drain()


def bot_position(tenant_id: str, bot: SignalBot) -> Decimal:
    from shared.positions.ledger import position_quantity

    return position_quantity(tenant_id, "paper", bot.symbol, bot.bot_id)
