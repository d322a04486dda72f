"""Metrics against values worked out by hand on a five-day equity curve and three trades."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared.backtest.metrics import compute_metrics
from shared.backtest.results import SIGNAL, STOP_LOSS, Trades

DAY = 86_400_000


def trades(pnl: list[float], bars_held: list[int], fees: list[float]) -> Trades:
    k = len(pnl)
    return Trades(
        entry_bar=np.arange(k, dtype=np.int64),
        exit_bar=np.arange(k, dtype=np.int64) + 1,
        entry_price=np.ones(k),
        exit_price=np.ones(k),
        qty=np.ones(k),
        fees=np.array(fees, dtype=np.float64),
        pnl=np.array(pnl, dtype=np.float64),
        exit_code=np.array([SIGNAL, STOP_LOSS, SIGNAL][:k], dtype=np.int8),
        bars_held=np.array(bars_held, dtype=np.int64),
    )


def test_metrics_on_a_hand_computed_series() -> None:
    # daily closes: returns +10 %, -10 %, 0 %, +20 %
    equity = np.array([100.0, 110.0, 99.0, 99.0, 118.8])
    timestamps = np.arange(5, dtype=np.int64) * DAY
    m = compute_metrics(equity, trades([10, -4, 6], [1, 1, 1], [0.5, 0.25, 0.25]), timestamps, 100.0, DAY)

    assert m.final_equity == 118.8
    assert m.total_return == pytest.approx(0.188)
    # 5 daily bars = 5/365 of a year: 1.188 ** 73 - 1
    assert m.cagr == pytest.approx(1.188**73 - 1)
    assert m.max_drawdown == pytest.approx(0.1)  # 110 -> 99
    assert m.bars_per_year == 365
    # mean 0.05; deviations .05 -.15 -.05 .15 -> sample variance 0.05 / 3
    assert m.sharpe == pytest.approx(0.05 / math.sqrt(0.05 / 3) * math.sqrt(365))
    # downside deviation sqrt((0 + 0.01 + 0 + 0) / 4) = 0.05
    assert m.sortino == pytest.approx(0.05 / 0.05 * math.sqrt(365))
    assert m.calmar == pytest.approx((1.188**73 - 1) / 0.1)
    assert m.trades == 3
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.profit_factor == pytest.approx(16 / 4)
    assert m.expectancy == pytest.approx(4)
    assert m.avg_trade_bars == 1
    assert m.avg_trade_duration_s == 86_400
    assert m.exposure == pytest.approx(3 / 5)
    assert m.fees_paid == 1.0


def test_drawdown_counts_from_the_starting_cash_and_a_loss_makes_cagr_negative() -> None:
    equity = np.array([100.0, 80.0, 90.0, 60.0, 75.0])
    timestamps = np.arange(5, dtype=np.int64) * DAY
    m = compute_metrics(equity, trades([-25], [4], [0]), timestamps, 100.0, DAY)
    assert m.max_drawdown == pytest.approx(0.4)
    assert m.cagr == pytest.approx(0.75**73 - 1)
    assert m.profit_factor == 0  # no gross profit over a gross loss of 25
    assert m.win_rate == 0


def test_profit_factor_is_none_without_a_losing_trade() -> None:
    equity = np.array([100.0, 110.0])
    m = compute_metrics(equity, trades([10], [1], [0]), np.arange(2, dtype=np.int64) * DAY, 100.0, DAY)
    assert m.profit_factor is None
    assert m.win_rate == 1


def test_undefined_figures_are_none_not_nan() -> None:
    equity = np.full(4, 50.0)
    m = compute_metrics(equity, trades([], [], []), np.arange(4, dtype=np.int64) * DAY, 50.0, DAY)
    assert (m.sharpe, m.sortino, m.calmar, m.win_rate, m.profit_factor, m.expectancy) == (None,) * 6
    assert (m.max_drawdown, m.exposure, m.fees_paid, m.total_return, m.cagr) == (0, 0, 0, 0, 0)


def test_annualization_follows_the_timeframe() -> None:
    equity = np.array([100.0, 101.0, 100.0])
    for bar_ms, per_year in [(60_000, 525_600), (3_600_000, 8_760), (DAY, 365)]:
        m = compute_metrics(equity, trades([], [], []), np.arange(3, dtype=np.int64) * bar_ms, 100.0, bar_ms)
        assert m.bars_per_year == per_year
