"""Per-tick strategy evaluation: each strategy on the window a live tick reads (its `lookback`).

A tick evaluates the whole window and keeps the last decision, so this is the in-process cost a
strategy_worker pays per bot per bar (candles already in memory). The floor is one plain numpy
mean over the same window's closes, measured in the same run: the cheapest whole-window numpy
call, so the ratio says how many "numpy calls" a strategy costs. Goal: <= 1 ms per tick, judged
on the mean (the p99 of a shared 2-core machine mostly measures the neighbours).
Also printed: building the window's Candles from ccxt rows, and a backtest's cost per bar when
the same code runs once over the whole history.

    .venv/bin/python -m benchmarks.strategy_eval [--runs 2000] [--warmup 100] [--bars 20000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import BaseModel

from benchmarks._support import STATS_HEADER, Stats, time_calls
from shared.strategies import dca, grid
from shared.strategies.candles import Candles
from shared.strategies.indicator_params import (
    BollingerReversionParams,
    EmaCrossParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from shared.strategies.order_plan import Fill
from shared.strategies.registry import STRATEGIES, IndicatorStrategy
from shared.strategies.stepped_params import DcaParams, GridParams

GOAL_US = 1000.0
MINUTE_MS = 60_000

INDICATOR_CASES: list[tuple[str, BaseModel]] = [
    ("sma_cross", SmaCrossParams(fast=20, slow=50)),
    ("sma_cross", SmaCrossParams(fast=50, slow=200)),
    ("ema_cross", EmaCrossParams(fast=12, slow=26)),
    ("ema_cross", EmaCrossParams(fast=50, slow=200)),
    ("macd_cross", MacdCrossParams()),
    ("rsi_reversion", RsiReversionParams()),
    ("bollinger_reversion", BollingerReversionParams()),
]


@dataclass(frozen=True)
class Row:
    label: str
    bars: int
    stats: Stats
    floor: Stats
    has_goal: bool = True

    def line(self) -> str:
        ratio = self.stats.p50 / self.floor.p50
        verdict = ("ok" if self.stats.mean <= GOAL_US else "OVER GOAL") if self.has_goal else "(no goal)"
        return f"{self.stats.row(f'{self.label} [{self.bars} bars]')} {ratio:>8.1f}x  {verdict}"


def random_walk(bars: int) -> Candles:
    rng = np.random.default_rng(42)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, bars)))
    high = close * (1 + rng.uniform(0.0, 0.001, bars))
    low = close * (1 - rng.uniform(0.0, 0.001, bars))
    stamps = 1_700_000_000_000 + MINUTE_MS * np.arange(bars, dtype=np.int64)
    return Candles(stamps, close, high, low, close, rng.uniform(1.0, 10.0, bars))


def label_of(name: str, params: BaseModel) -> str:
    shown = [f"{value:g}" for value in params.model_dump().values() if isinstance(value, int | float)]
    return f"{name}({', '.join(shown)})"


def measure(
    label: str, window: Candles, call: Callable[[], Any], runs: int, warmup: int, *, has_goal: bool = True
) -> Row:
    floor = time_calls(lambda: float(np.mean(window.close)), warmup=warmup, runs=runs)
    return Row(label, len(window), time_calls(call, warmup=warmup, runs=runs), floor, has_goal)


def indicator_rows(history: Candles, runs: int, warmup: int) -> list[Row]:
    rows = []
    for name, params in INDICATOR_CASES:
        strategy = STRATEGIES[name]
        assert isinstance(strategy, IndicatorStrategy)
        window = history.tail(strategy.lookback(params))

        def tick(
            strategy: IndicatorStrategy[Any] = strategy, window: Candles = window, params: BaseModel = params
        ) -> Any:
            return strategy.decide_last(window, params)

        rows.append(measure(label_of(name, params), window, tick, runs, warmup))
    return rows


def stepped_rows(history: Candles, runs: int, warmup: int) -> list[Row]:
    """dca mid-cycle (base and two safety orders filled, one fill to apply) and a 50-level grid with a fill."""
    last = history.tail(1)
    ladder = DcaParams(
        order_notional=Decimal(100), max_safety_orders=10, max_active_safety_orders=3, stop_loss_pct=Decimal(20)
    )
    state = dca.step(ladder, None, last, (Fill("dca:c1:base", "buy", Decimal("0.003"), Decimal(30_000), True),)).state
    state = dca.step(ladder, state, last, (Fill("dca:c1:so1", "buy", Decimal("0.003"), Decimal(29_700), True),)).state
    fill = (Fill("dca:c1:so2", "buy", Decimal("0.003"), Decimal(29_400), True),)
    levels = GridParams(
        lower_price=Decimal(25_000),
        upper_price=Decimal(35_000),
        levels=50,
        spacing="geometric",
        order_amount=Decimal("0.001"),
    )
    grid_state = grid.step(levels, None, last, (Fill("grid:init", "buy", Decimal("0.02"), Decimal(30_000), True),))
    buy = next(order for order in grid_state.orders if order.side == "buy" and order.price is not None)
    grid_fill = (Fill(buy.leg, "buy", Decimal("0.001"), buy.price or Decimal(1), True),)
    return [
        measure(
            "dca step (3 active safety orders, 1 fill)", last, lambda: dca.step(ladder, state, last, fill), runs, warmup
        ),
        measure(
            "grid step (50 geometric levels, 1 fill)",
            last,
            lambda: grid.step(levels, grid_state.state, last, grid_fill),
            runs,
            warmup,
        ),
    ]


def candles_row(history: Candles, runs: int, warmup: int) -> Row:
    """Building the largest window's Candles from ccxt rows, as a worker does from stored bars."""
    longest = 1
    for name, params in INDICATOR_CASES:
        strategy = STRATEGIES[name]
        assert isinstance(strategy, IndicatorStrategy)
        longest = max(longest, strategy.lookback(params))
    window = history.tail(longest)
    rows = np.column_stack(
        [window.timestamp.astype(np.float64), window.open, window.high, window.low, window.close, window.volume]
    ).tolist()
    return measure(
        "Candles.from_rows (ccxt rows -> arrays)", window, lambda: Candles.from_rows(rows), runs, warmup, has_goal=False
    )


def backtest_lines(history: Candles) -> list[str]:
    lines = []
    for name, params in INDICATOR_CASES:
        strategy = STRATEGIES[name]
        assert isinstance(strategy, IndicatorStrategy)
        best = min(_once(lambda: strategy.target_positions(history, params)) for _ in range(5))  # noqa: B023
        lines.append(f"{label_of(name, params):<52} {best * 1e3:>9.2f} ms {best * 1e9 / len(history):>9.1f} ns/bar")
    return lines


def _once(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--bars", type=int, default=20_000, help="history length (the backtest figures)")
    args = parser.parse_args(argv)

    history = random_walk(args.bars)
    print(f"Per tick, in-process; floor = np.mean over the same window; goal: mean <= {GOAL_US:.0f} µs")
    print(f"{STATS_HEADER} {'p50/floor':>9}")
    for row in [
        *indicator_rows(history, args.runs, args.warmup),
        *stepped_rows(history, args.runs, args.warmup),
        candles_row(history, args.runs, args.warmup),
    ]:
        print(row.line())
    print(f"\nBacktest: the same code once over the whole history of {len(history)} bars (best of 5):")
    for line in backtest_lines(history):
        print(line)


if __name__ == "__main__":
    main()
