"""Drive the trading path in tests: the template's real SQS pollers and handlers, on moto."""

from __future__ import annotations

import threading
from typing import Any

from localcloud.pollers import SqsPoller, sqs_pollers
from tests.support.aws import TestCloud


class TradingRig:
    """The trade worker and DLQ alerter pollers plus the reconciler, as the template wires them."""

    def __init__(self, cloud: TestCloud) -> None:
        self.cloud = cloud
        pollers = sqs_pollers(cloud.resolver, cloud.functions, cloud.endpoint, threading.Event())
        self.worker: SqsPoller = next(p for p in pollers if p.function.logical_id == "TradeWorkerFunction")
        self.dlq: SqsPoller = next(p for p in pollers if p.function.logical_id == "TradeDlqAlerterFunction")

    def drain(self, rounds: int = 20) -> int:
        """Run the worker until its queue is empty (or `rounds` polls); returns tasks handled."""
        handled = 0
        for _ in range(rounds):
            received = self.worker.poll_once(wait_seconds=0)
            if not received:
                break
            handled += received
        return handled

    def reconcile(self) -> Any:
        from localcloud.functions import FakeLambdaContext

        handler = self.cloud.functions["OrderReconcilerFunction"].handler()
        return handler({}, FakeLambdaContext("order-reconciler", 1024, 120))
