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
Then dca and grid (`--stepped-days` of 1-minute bars): their live step function on every bar, timed
against the bare step calls, with the time the stepped bar cap (BACKTEST_MAX_STEPPED_BARS) would take.
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
from typing import Any

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


def bench_stepped(days: int, runs: int) -> None:
    """dca and grid: their live step on every bar (a Python loop, Decimal arithmetic), over `days`
    of 1-minute bars. Floor: the bare step calls on the same bars (a fixed state, no fills), what
    any replay of the live code must pay; the ratio is the simulated book's overhead on top."""
    from decimal import Decimal

    from shared.backtest.stepped import run_stepped_backtest
    from shared.config import get_settings
    from shared.strategies.candles import Candles as StrategyCandles
    from shared.strategies.registry import STRATEGIES, SteppedStrategy
    from shared.strategies.stepped_params import DcaParams, GridParams

    candles = synthetic_candles("BTC/USDT", "1m", JAN_2025, JAN_2025 + days * DAY_MS)
    n = len(candles)
    lower, upper = Decimal(f"{np.min(candles.close):.2f}"), Decimal(f"{np.max(candles.close):.2f}")
    cases = {
        "dca 5 SO, 1 % / TP 1 %": (
            "dca",
            DcaParams(interval="1m", order_notional=Decimal(100), max_safety_orders=5, max_active_safety_orders=2),
        ),
        "grid 20 levels": (
            "grid",
            GridParams(
                lower_price=lower,
                upper_price=upper,
                levels=20,
                order_amount=Decimal("0.01"),
            ),
        ),
        "grid 200 levels": (
            "grid",
            GridParams(lower_price=lower, upper_price=upper, levels=200, order_amount=Decimal("0.001")),
        ),
        "grid 100 levels": (
            "grid",
            GridParams(
                lower_price=lower,
                upper_price=upper,
                levels=100,
                order_amount=Decimal("0.002"),
            ),
        ),
    }
    print(
        f"\nstepped strategies, {days} days of 1-minute bars ({n:,} bars), 0.1 % fees, first run then median of {runs}"
    )
    header = ("strategy", "first", "median", "bars/s", "us/bar", "x steps", "trades", "cap bars")
    print("  {:<24} {:>9} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9}".format(*header))
    cap = get_settings().backtest_max_stepped_bars
    config = BacktestConfig(starting_cash=100_000, fee_rate=0.001)
    for label, (name, params) in cases.items():
        strategy = STRATEGIES[name]
        assert isinstance(strategy, SteppedStrategy)

        def bare_steps(strategy: SteppedStrategy[Any, Any] = strategy, params: Any = params) -> None:
            state = None
            for i in range(n):
                window = StrategyCandles(
                    candles.timestamps[i : i + 1],
                    candles.open[i : i + 1],
                    candles.high[i : i + 1],
                    candles.low[i : i + 1],
                    candles.close[i : i + 1],
                    candles.volume[i : i + 1],
                )
                state = strategy.step(params, state, window, ()).state

        floor = timed(bare_steps, 1)
        run = functools.partial(run_stepped_backtest, candles, strategy, params, config, bar_ms=MINUTE_MS)
        timing = timed(run, runs)
        trades = run()[0].metrics.trades
        per_bar_us = timing.median_ms * 1000 / n
        seconds, median_s = timing.first_ms / 1000, timing.median_ms / 1000
        print(
            f"  {label:<24} {seconds:7.2f} s {median_s:7.2f} s {n / median_s:9,.0f} {per_bar_us:7.1f}"
            f" {timing.median_ms / floor.median_ms:8.2f} {trades:7,} {per_bar_us * cap / 1e6:7.0f} s"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs after the first, one year of bars")
    parser.add_argument("--scale-runs", type=int, default=5, help="timed runs after the first, 10x the bars")
    parser.add_argument("--stepped-days", type=int, default=14, help="days of 1m bars for dca and grid (0: skip)")
    parser.add_argument("--stepped-runs", type=int, default=2, help="timed runs after the first, dca and grid")
    parser.add_argument("--only-stepped", action="store_true", help="skip the sma_cross timings")
    args = parser.parse_args(argv)
    if args.only_stepped:
        bench_stepped(args.stepped_days, args.stepped_runs)
        return

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
    if args.stepped_days:
        bench_stepped(args.stepped_days, args.stepped_runs)


if __name__ == "__main__":
    main()
