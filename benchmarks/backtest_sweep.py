"""A 100-combination sweep through the API handler and the backtest worker's SQS poller on the
local endpoint (moto), with a Lambda cost estimate from the measured per-job durations.

    .venv/bin/python -m benchmarks.backtest_sweep [--days 90] [--timeframe 1m]

The sweep: `sma_cross`, fast 5..50 step 5 x slow 60..150 step 10 (100 valid combinations),
0.1 % fees, all-in, synthetic candles. Timed: the POST (validation, 100 rows, 10 SendMessageBatch
calls), every worker invocation (one job each, as BatchSize 1 makes Lambda do: load candles,
strategy, engine, results to S3, row and sweep counter in DynamoDB), and the whole drain. The
local poller runs jobs one after another; Lambda would run up to the event source's maximum
concurrency side by side, so the parallel wall time printed is an estimate from the per-job
durations. The floor, measured in the same run: one job's compute alone (candles, strategy,
engine, no AWS calls), so the ratio shows what storage and bookkeeping add.

Cost: billed duration (each invocation rounded up to 1 ms) x configured memory x the x86 price
per GB-second, plus the per-request price; the prices are stated in the output (us-east-1, first
tier). Durations are measured on this machine (2 shared cores); a 1,769 MB Lambda gets one vCPU,
so treat the figure as an order of magnitude.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks._support import start_cloud

PRICE_PER_GB_SECOND = 0.0000166667  # USD, x86_64, us-east-1, first 6 billion GB-s per month
PRICE_PER_REQUEST = 0.20 / 1_000_000  # USD
GRID = {"fast": {"from": 5, "to": 50, "step": 5}, "slow": {"from": 60, "to": 150, "step": 10}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--timeframe", default="1m")
    args = parser.parse_args()

    cloud = start_cloud()
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one INFO line per job would drown the figures
    from functions.auth_api.app import lambda_handler as auth_handler
    from functions.backtests_api.app import lambda_handler as backtests_handler
    from tests.support.api import LambdaApi
    from tests.support.backtests import BacktestRig, key
    from tests.support.tenants import new_tenant

    end = datetime(2025, 1, 1, tzinfo=UTC)
    start = end - timedelta(days=args.days)
    body: dict[str, Any] = {
        "strategy": {"type": "sma_cross", "params": {}},
        "grid": GRID,
        "symbol": "BTC/USDT",
        "timeframe": args.timeframe,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "fee_rate": 0.001,
    }
    caller, _ = new_tenant(auth_handler)
    api = LambdaApi(backtests_handler, caller)
    rig = BacktestRig(cloud)
    worker = rig.worker.function

    floor, bars = _compute_floor(caller.tenant_id, body)

    durations: list[float] = []
    original = worker.invoke

    def timed(event: dict[str, Any], *, exclusive: bool = True) -> Any:
        began = time.perf_counter()
        try:
            return original(event, exclusive=exclusive)
        finally:
            durations.append(time.perf_counter() - began)

    worker.invoke = timed  # type: ignore[method-assign]

    # Warm the API function (its lazy imports and AWS clients) with a one-job sweep, whose job is discarded.
    warm = api.post("/backtests/sweeps", body={**body, "grid": {"fast": [20], "slow": [100]}}, headers=key())
    assert warm.status == 202, warm.text
    rig.discard()

    began = time.perf_counter()
    reply = api.post("/backtests/sweeps", body=body, headers=key())
    post_s = time.perf_counter() - began
    assert reply.status == 202, reply.text
    sweep = reply.json
    began = time.perf_counter()
    handled = rig.drain()
    drain_s = time.perf_counter() - began
    status = api.get(f"/backtests/sweeps/{sweep['id']}?rank_by=sharpe&limit=3").json
    assert status["status"] == "completed" and status["failed"] == 0, status
    assert handled == sweep["total"] == 100, (handled, sweep)

    _report(
        sorted(durations),
        memory_mb=worker.memory,
        post_s=post_s,
        drain_s=drain_s,
        floor=floor,
        bars=bars,
        timeframe=args.timeframe,
        days=args.days,
        ranking=status["ranking"],
    )
    _year_job(caller.tenant_id, memory_mb=worker.memory)
    cloud.stop()


def _year_job(tenant_id: str, *, memory_mb: int) -> None:
    """One job at the size the worker's memory is set for: a year of 1-minute bars, `sma_cross`
    20/50 with a 2 % stop and 4 % target; its time and its peak heap (tracemalloc sees numpy's
    allocations), against the configured memory."""
    import tracemalloc

    from shared.backtest.requests import BacktestCreate
    from shared.backtest.runner import load_candles, simulate_and_store

    request = BacktestCreate.model_validate(
        {
            "strategy": {"type": "sma_cross", "params": {"fast": 20, "slow": 50}},
            "symbol": "BTC/USDT",
            "timeframe": "1m",
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-12-31T00:00:00Z",
            "stop_loss_pct": 2,
            "take_profit_pct": 4,
        }
    )
    for run in ("first", "second"):
        tracemalloc.start()
        began = time.perf_counter()
        candles = load_candles(tenant_id, request)
        loaded = time.perf_counter()
        metrics = simulate_and_store(request, candles, f"results/{tenant_id}/bt_benchmark/")
        stored = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"one year of 1m bars ({len(candles):,}), {run} run: candles {(loaded - began) * 1000:.0f} ms,"
            f" strategy + engine + results to S3 {(stored - loaded) * 1000:.0f} ms, {metrics['trades']} trades,"
            f" peak heap {peak / 2**20:.0f} MiB of the worker's {memory_mb} MB"
        )


def _report(
    per_job: list[float],
    *,
    memory_mb: int,
    post_s: float,
    drain_s: float,
    floor: float,
    bars: int,
    timeframe: str,
    days: int,
    ranking: list[dict[str, Any]],
) -> None:
    handled = len(per_job)
    mean = statistics.fmean(per_job)
    billed_gb_s = sum(math.ceil(d * 1000) / 1000 for d in per_job) * memory_mb / 1024
    cost = billed_gb_s * PRICE_PER_GB_SECOND + len(per_job) * PRICE_PER_REQUEST
    concurrency = 50
    parallel_estimate = math.ceil(len(per_job) / concurrency) * per_job[-1]

    print(f"sweep: sma_cross, {handled} combinations, {days} days of {timeframe} bars ({bars:,} per job)")
    print(f"  POST /backtests/sweeps (warm; validate, 100 rows, 10 batches){post_s * 1000:9.1f} ms")
    print(f"  drain through the worker poller, one job at a time                 {drain_s:9.2f} s")
    print(
        f"  per job (worker invocation)  mean {mean * 1000:8.1f} ms   p50 {statistics.median(per_job) * 1000:8.1f} ms"
        f"   max {per_job[-1] * 1000:8.1f} ms   min {per_job[0] * 1000:8.1f} ms"
    )
    print(f"  floor: one job's compute alone (candles + strategy + engine)       {floor * 1000:9.1f} ms")
    print(f"  per job / floor                                                    {mean / floor:9.2f} x")
    print(f"  end to end (POST + drain) per job{'':35}{(post_s + drain_s) / handled * 1000:9.1f} ms")
    print(
        f"  on Lambda at MaximumConcurrency {concurrency}: about {parallel_estimate:.2f} s of wall time"
        f" ({math.ceil(len(per_job) / concurrency)} waves x the slowest job; cold starts not included)"
    )
    print(
        f"Lambda cost estimate: {billed_gb_s:.2f} GB-s at {memory_mb} MB x ${PRICE_PER_GB_SECOND}/GB-s"
        f" + {len(per_job)} requests x ${PRICE_PER_REQUEST * 1e6:.2f}/M = ${cost:.6f} per sweep"
        f" (${cost / len(per_job) * 1000:.4f} per 1,000 backtests)"
    )
    print(f"best by sharpe: {[(e['params'], round(e['value'], 3)) for e in ranking]}")


def _compute_floor(tenant_id: str, body: dict[str, Any]) -> tuple[float, int]:
    """One job's compute alone (candles, strategy, engine; no AWS calls): median of two warm runs."""
    from shared.backtest.engine import run_backtest
    from shared.backtest.requests import TIMEFRAME_MS, BacktestCreate
    from shared.backtest.runner import engine_config, load_candles
    from shared.strategies.candles import Candles as StrategyCandles
    from shared.strategies.registry import STRATEGIES, IndicatorStrategy

    settings = {k: v for k, v in body.items() if k != "grid"}
    sample = BacktestCreate.model_validate(
        {**settings, "strategy": {"type": "sma_cross", "params": {"fast": 20, "slow": 100}}}
    )
    strategy = STRATEGIES["sma_cross"]
    assert isinstance(strategy, IndicatorStrategy)
    params = strategy.params_model.model_validate({"fast": 20, "slow": 100, "timeframe": sample.timeframe})
    samples: list[float] = []
    bars = 0
    for _ in range(3):
        began = time.perf_counter()
        candles = load_candles(tenant_id, sample)
        view = StrategyCandles(
            candles.timestamps, candles.open, candles.high, candles.low, candles.close, candles.volume
        )
        target = strategy.target_positions(view, params)
        run_backtest(candles, target, engine_config(sample), bar_ms=TIMEFRAME_MS[sample.timeframe])
        samples.append(time.perf_counter() - began)
        bars = len(candles)
    return statistics.median(samples[1:]), bars


if __name__ == "__main__":
    main()
