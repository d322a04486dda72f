"""Drive backtests in tests and benchmarks: the template's backtest worker poller on the local
endpoint, and request bodies."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import boto3

from localcloud.pollers import SqsPoller, sqs_pollers
from tests.support.aws import TestCloud
from tests.support.trading import drain_poller


class BacktestRig:
    """The backtest worker's SQS poller as the template wires it (one job per invocation)."""

    def __init__(self, cloud: TestCloud) -> None:
        pollers = sqs_pollers(cloud.resolver, cloud.functions, cloud.endpoint, threading.Event())
        self.worker: SqsPoller = next(p for p in pollers if p.function.logical_id == "BacktestWorkerFunction")
        self.sqs = boto3.client("sqs")

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.worker.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def discard(self) -> int:
        """Delete every queued job without running it (PurgeQueue is allowed once a minute)."""
        discarded = 0
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.worker.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return discarded
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.worker.queue_url, ReceiptHandle=message["ReceiptHandle"])
            discarded += len(messages)

    def drain(self, limit: int = 1000) -> int:
        """Run the worker until the queue is empty; returns the jobs it received."""
        return drain_poller(self.worker, limit)


def key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(12)}


def backtest_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "strategy": {"type": "sma_cross", "params": {"fast": 5, "slow": 20}},
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-03-01T00:00:00Z",
        "starting_cash": 10_000,
        "fee_rate": 0.001,
        "slippage_rate": 0.0005,
        "sizing": {"mode": "all_in"},
    }
    body.update(overrides)
    return body
