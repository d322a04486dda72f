"""Pieces the in-process benchmarks share: the moto-backed test cloud and timing statistics.

Nothing here imports `shared` or `functions` at module level: their models read table names
from the environment when they are defined, so the cloud must be started first.
"""

from __future__ import annotations

import logging
import os
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.aws import TestCloud, start_test_cloud

BOT_BODY: dict[str, Any] = {
    "name": "btc trend",
    "exchange_account_id": "paper",
    "symbol": "BTC/USDT",
    "strategy": {"type": "sma_cross", "params": {"fast": 20, "slow": 50, "timeframe": "1m"}},
    "risk": {"max_position_notional": 1000, "max_daily_loss": 100, "max_open_orders": 2},
}
PASSWORD = "a-long-benchmark-password-1"


def start_cloud() -> TestCloud:
    """moto's server with every template resource, and the env vars the models read at import."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    cloud = start_test_cloud(stack_name="bench")
    os.environ["JWT_SECRET"] = secrets.token_urlsafe(36)  # 48 characters
    return cloud


@dataclass(frozen=True)
class Stats:
    """Per-call latency summary, in microseconds."""

    n: int
    mean: float
    p50: float
    p99: float
    minimum: float

    @classmethod
    def of(cls, samples_s: list[float]) -> Stats:
        us = sorted(s * 1e6 for s in samples_s)
        p99_index = min(len(us) - 1, round(0.99 * (len(us) - 1)))
        return cls(len(us), statistics.fmean(us), statistics.median(us), us[p99_index], us[0])

    def row(self, label: str) -> str:
        return f"{label:<52} {self.mean:>9.1f} {self.p50:>9.1f} {self.p99:>9.1f} {self.minimum:>9.1f}"


STATS_HEADER = f"{'per call (µs)':<52} {'mean':>9} {'p50':>9} {'p99':>9} {'min':>9}"


def time_calls(call: Callable[[], Any], *, warmup: int, runs: int) -> Stats:
    """Time `call` one invocation at a time (perf_counter), after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return Stats.of(samples)
