"""Drive bots in tests: the scheduler at a chosen time with hand-made candles, the bot-ticks queue
read back per tenant, and the strategy worker's real handler on them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3

from localcloud.functions import FakeLambdaContext
from shared.bots.schedule import BotTick
from shared.exchange.protocol import Candle
from shared.market_data.markets import MarketKey
from shared.market_data.store import exchange_fetch

Closes = Callable[[int], float]  # bar open time ms -> close price


class CandleFeed:
    """A fetch function for the market data store: hand-made closes on chosen markets (every other
    market gets the real paper candles), counting the exchange calls per market."""

    def __init__(self, closes: dict[str, Closes] | None = None, *, missing_after_ms: int | None = None) -> None:
        self.closes = closes or {}
        self.calls: Counter[str] = Counter()
        self.missing_after_ms = missing_after_ms  # bars opening at or after this are "not reported yet"

    def set(self, market: str, closes: Closes) -> None:
        self.closes[market] = closes

    def __call__(self, market: MarketKey, bars: int, now_ms: int) -> list[Candle]:
        self.calls[str(market)] += 1
        closes = self.closes.get(str(market))
        if closes is None:
            return exchange_fetch(market, bars, now_ms)
        span = market.span_ms
        current = now_ms // span * span  # the bar still open, as exchanges report it
        rows = []
        for start in range(current - (bars - 1) * span, current + 1, span):
            if self.missing_after_ms is not None and start >= self.missing_after_ms:
                continue
            price = Decimal(repr(closes(start)))
            rows.append(Candle(start, price, price, price, price, Decimal(1)))
        return rows


def ticks_queue_url() -> str:
    from shared.config import get_settings

    return get_settings().bot_ticks_queue_url


def drain_ticks(tenant_id: str) -> list[dict[str, Any]]:
    """Every message now on bot-ticks.fifo, deleted; returns the raw messages of `tenant_id`'s bots."""
    sqs = boto3.client("sqs")
    mine: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=ticks_queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return mine
        sqs.delete_message_batch(
            QueueUrl=ticks_queue_url(),
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        mine += [m for m in messages if json.loads(m["Body"])["tenant_id"] == tenant_id]


def run_worker(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The strategy worker's handler on one SQS batch event made of `messages` (at most 10)."""
    from functions.strategy_worker.app import lambda_handler

    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bot-ticks.fifo",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }
    result: dict[str, Any] = lambda_handler(event, FakeLambdaContext("strategy-worker", 1024, 30))  # type: ignore[arg-type]
    return result


def tick_of(message: dict[str, Any]) -> BotTick:
    return BotTick.model_validate_json(message["Body"])
