"""Backtest engine speed: one year of 1-minute bars (525,600), `sma_cross` 20/50 all-in with 0.1 %
fees, without and with a 2 % stop-loss / 4 % take-profit, in-process with the data loaded.

    .venv/bin/python -m benchmarks.backtest_engine [--runs 21] [--scale-runs 5]

Timed: `run_backtest` (simulation, equity curve and every metric) given the timeframe, as the
worker knows it from the request; candle loading/validation and the target are prepared before
the clock starts. Printed: the first run separately (page faults,
lazy imports), the median and minimum of the rest, bars per second, the same at 10x the bars, and
ratios to two floors measured in the same run: a plain `np.cumsum` over the closes (the least a
pass over the data costs) and computing the SMA-cross target itself (what any strategy pays
before the engine starts). The issue's goal: <= 100 ms without stops, <= 150 ms with them.
Also printed: the cost of importing numpy and the engine in a fresh interpreter (a Lambda cold
start pays it once). Pure numpy, nothing compiled.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.backtest.candles import Candles
from shared.backtest.config import BacktestConfig
from shared.backtest.engine import run_backtest
from shared.backtest.results import STOP_LOSS, TAKE_PROFIT
from shared.backtest.synthetic import synthetic_candles

JAN_2025 = 1_735_689_600_000
JAN_2015 = 1_420_070_400_000
DAY_MS = 86_400_000
MINUTE_MS = 60_000
FAST, SLOW = 20, 50
GOALS_MS = {"no stops": 100.0, "SL 2 % / TP 4 %": 150.0}


def sma(values: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Trailing mean over `window` bars (NaN before the first full window), from a running sum."""
    sums = np.cumsum(values)
    out = np.full(values.shape[0], np.nan)
    out[window - 1] = sums[window - 1]
    out[window:] = sums[window:] - sums[:-window]
    out[window - 1 :] /= window
    return out


def sma_cross_target(close: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Long while SMA(20) > SMA(50) (a benchmark stand-in for the real strategy)."""
    fast, slow = sma(close, FAST), sma(close, SLOW)
    return (fast > slow).astype(np.float64)  # NaN compares False: flat during the warm-up


@dataclass(frozen=True)
class Timing:
    first_ms: float
    median_ms: float
    min_ms: float


def timed(call: Callable[[], object], runs: int) -> Timing:
    samples = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(samples[0], statistics.median(samples[1:]), min(samples[1:]))


def import_cost_ms() -> tuple[float, float]:
    """numpy, then the engine, imported in a fresh interpreter (best of 3)."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter();"
        "import shared.backtest.engine, shared.backtest.metrics; t2 = time.perf_counter();"
        "print((t1 - t0) * 1000, (t2 - t1) * 1000)"
    )
    best = (float("inf"), float("inf"))
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        best = (min(best[0], float(out[0])), min(best[1], float(out[1])))
    return best


def bench_size(label: str, candles: Candles, runs: int) -> None:
    n = len(candles)
    close = candles.close
    floor_sum = timed(lambda: np.cumsum(close), runs)
    floor_target = timed(lambda: sma_cross_target(close), runs)
    target = sma_cross_target(close)
    print(f"\n{label}: {n:,} bars, {int(target.sum()):,} bars long")
    print(f"  floor np.cumsum(close)        median {floor_sum.median_ms:8.2f} ms")
    print(f"  floor sma_cross target        median {floor_target.median_ms:8.2f} ms")
    print(
        f"  {'run_backtest':<18} {'first':>9} {'median':>9} {'min':>9} {'bars/s':>12} {'x cumsum':>9}"
        f" {'x target':>9} {'trades':>7} {'SL/TP':>6}  goal"
    )
    configs = {
        "no stops": BacktestConfig(starting_cash=10_000, fee_rate=0.001),
        "SL 2 % / TP 4 %": BacktestConfig(starting_cash=10_000, fee_rate=0.001, stop_loss_pct=2, take_profit_pct=4),
    }
    for name, config in configs.items():
        timing = timed(functools.partial(run_backtest, candles, target, config, bar_ms=MINUTE_MS), runs)
        codes = run_backtest(candles, target, config).trades.exit_code
        stopped = int(np.count_nonzero((codes == STOP_LOSS) | (codes == TAKE_PROFIT)))
        goal = GOALS_MS[name] * n / 525_600
        verdict = "meets" if timing.median_ms <= goal else "MISSES"
        print(
            f"  {name:<18} {timing.first_ms:7.2f}ms {timing.median_ms:7.2f}ms {timing.min_ms:7.2f}ms"
            f" {n / timing.median_ms * 1000:12,.0f} {timing.median_ms / floor_sum.median_ms:9.1f}"
            f" {timing.median_ms / floor_target.median_ms:9.2f} {codes.shape[0]:7,} {stopped:6,}"
            f"  {verdict} {goal:.0f} ms{' (the 1-year goal x 10)' if n != 525_600 else ''}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs after the first, one year of bars")
    parser.add_argument("--scale-runs", type=int, default=5, help="timed runs after the first, 10x the bars")
    args = parser.parse_args(argv)

    numpy_ms, engine_ms = import_cost_ms()
    print(f"fresh-interpreter import: numpy {numpy_ms:.1f} ms, shared.backtest engine+metrics {engine_ms:.1f} ms")

    start = time.perf_counter()
    year = synthetic_candles("BTC/USDT", "1m", JAN_2025, JAN_2025 + 365 * DAY_MS)
    print(f"synthetic candles, 1 year of 1m (generation + validation): {(time.perf_counter() - start) * 1000:.0f} ms")
    start = time.perf_counter()
    year.validate()
    print(f"candle validation alone: {(time.perf_counter() - start) * 1000:.1f} ms (not in the timings below)")
    bench_size("1 year of 1-minute bars", year, args.runs)

    decade = synthetic_candles("BTC/USDT", "1m", JAN_2015, JAN_2015 + 3650 * DAY_MS)
    bench_size("10x: 10 years of 1-minute bars", decade, args.scale_runs)


if __name__ == "__main__":
    main()
