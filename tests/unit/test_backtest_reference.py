"""The fast engine against the bar-by-bar reference (tests/support/backtest_reference.py) on random
candles, targets, costs, sizings, stops and targets: the same trades, the same equity."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.backtest.candles import Candles
from shared.backtest.config import SIZINGS, BacktestConfig
from shared.backtest.engine import simulate
from tests.support.backtest_reference import simulate_reference

REL = 1e-9


@dataclass(frozen=True)
class Series:
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]


@st.composite
def series(draw: st.DrawFn) -> Series:
    """Volatile bars (moves of several %, so stops and targets are hit often), often without wicks,
    and with gaps between a close and the next open about half the time, so gaps through a stop
    or a target happen too."""
    n = draw(st.integers(min_value=2, max_value=40))
    move = st.floats(min_value=-0.06, max_value=0.06, allow_nan=False)
    wick = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.02, allow_nan=False))
    gap = st.one_of(st.just(0.0), st.floats(min_value=-0.08, max_value=0.08, allow_nan=False))
    opens, highs, lows, closes = [], [], [], []
    price = draw(st.floats(min_value=0.01, max_value=1e5))
    for _ in range(n):
        o = price * math.exp(draw(gap))
        c = o * math.exp(draw(move))
        opens.append(o)
        closes.append(c)
        highs.append(max(o, c) * math.exp(draw(wick)))
        lows.append(min(o, c) * math.exp(-draw(wick)))
        price = c
    return Series(opens, highs, lows, closes)


@st.composite
def configs(draw: st.DrawFn) -> BacktestConfig:
    sizing = draw(st.sampled_from(SIZINGS))
    return BacktestConfig(
        starting_cash=draw(st.floats(min_value=1.0, max_value=1e6)),
        fee_rate=draw(st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.02))),
        slippage_rate=draw(st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.02))),
        sizing=sizing,
        fixed_notional=draw(st.floats(min_value=1.0, max_value=2e6)) if sizing == "fixed_notional" else None,
        equity_pct=draw(st.floats(min_value=1.0, max_value=100.0)) if sizing == "percent_of_equity" else None,
        stop_loss_pct=draw(st.none() | st.floats(min_value=0.1, max_value=10.0)),
        take_profit_pct=draw(st.none() | st.floats(min_value=0.1, max_value=15.0)),
    )


def close_enough(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b), scale)


@settings(max_examples=600, deadline=None)
@given(data=st.data(), bars=series(), config=configs())
def test_engine_matches_the_bar_by_bar_reference(data: st.DataObject, bars: Series, config: BacktestConfig) -> None:
    n = len(bars.close)
    target = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    candles = Candles.from_arrays(np.arange(n) * 60_000, bars.open, bars.high, bars.low, bars.close)

    trades, equity = simulate(candles, np.array(target), config)
    expected = simulate_reference(bars.open, bars.high, bars.low, bars.close, target, config)

    got = trades.records()
    assert [(t["entry_bar"], t["exit_bar"], t["exit_reason"], t["bars_held"]) for t in got] == [
        (t.entry_bar, t.exit_bar, t.exit_reason, t.bars_held) for t in expected.trades
    ]
    # prices do not depend on the cash: the same floats
    assert [(t["entry_price"], t["exit_price"]) for t in got] == [
        (t.entry_price, t.exit_price) for t in expected.trades
    ]
    scale = config.starting_cash
    for mine, theirs in zip(got, expected.trades, strict=True):
        assert math.isclose(mine["qty"], theirs.qty, rel_tol=REL)
        assert close_enough(mine["fees"], theirs.fees, scale)
        assert close_enough(mine["pnl"], theirs.pnl, scale)
    assert math.isclose(float(equity[-1]), expected.equity[-1], rel_tol=REL)
    assert all(math.isclose(a, b, rel_tol=REL) for a, b in zip(equity.tolist(), expected.equity, strict=True))
