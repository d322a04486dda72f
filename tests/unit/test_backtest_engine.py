"""The engine's fill rules, one hand-made candle series per rule, plus input checks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from shared.backtest.candles import Candles
from shared.backtest.config import BacktestConfig
from shared.backtest.engine import run_backtest, simulate
from shared.backtest.results import Trades
from shared.errors import ValidationFailed

MINUTE = 60_000
Bar = tuple[float, float, float, float]  # open, high, low, close


def candles(bars: Sequence[Bar]) -> Candles:
    columns = list(zip(*bars, strict=True))
    return Candles.from_arrays(np.arange(len(bars)) * MINUTE, *columns)


def flat(prices: list[float]) -> list[Bar]:
    """Bars that open and close at one price, with a range too small to touch any level."""
    return [(p, p * 1.0001, p * 0.9999, p) for p in prices]


def run(bars: Sequence[Bar], target: list[float], config: BacktestConfig) -> tuple[Trades, list[float]]:
    trades, equity = simulate(candles(bars), np.array(target), config)
    return trades, equity.tolist()


def one_trade(trades: Trades) -> dict[str, object]:
    records = trades.records()
    assert len(records) == 1, records
    return records[0]


# ----------------------------------------------------------------------------------- next-open fills
def test_orders_fill_at_the_next_bars_open() -> None:
    bars = flat([10, 11, 12, 13, 14, 15])
    trades, equity = run(bars, [0, 1, 1, 1, 0, 0], BacktestConfig(starting_cash=1200))
    trade = one_trade(trades)
    # target 1 at the close of bar 1 -> bought at the open of bar 2; 0 at bar 4's close -> sold at bar 5's open
    assert (trade["entry_bar"], trade["entry_price"]) == (2, 12.0)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (5, 15.0, "signal")
    assert trade["qty"] == 100.0
    assert trade["pnl"] == pytest.approx(300.0)
    assert trade["bars_held"] == 3  # bars 2, 3, 4; bar 5 only saw the sell at its open
    assert equity == pytest.approx([1200, 1200, 1200, 1300, 1400, 1500])


def test_a_target_on_the_first_bar_enters_at_the_second_open() -> None:
    trades, _ = run(flat([10, 20, 20]), [1, 1, 1], BacktestConfig(starting_cash=100))
    trade = one_trade(trades)
    assert (trade["entry_bar"], trade["entry_price"]) == (1, 20.0)


def test_fees_and_slippage_on_both_sides_all_in_spends_exactly_the_cash() -> None:
    fee, slip = 0.001, 0.002
    bars = flat([100, 100, 110, 110])
    trades, equity = run(bars, [1, 0, 0, 0], BacktestConfig(1000, fee_rate=fee, slippage_rate=slip))
    trade = one_trade(trades)
    buy = 100 * (1 + slip)
    sell = 110 * (1 - slip)
    qty = 1000 / (buy * (1 + fee))
    assert trade["entry_price"] == buy
    assert trade["exit_price"] == sell
    assert trade["qty"] == pytest.approx(qty, rel=1e-12)
    assert qty * buy + qty * buy * fee == pytest.approx(1000, rel=1e-12)  # notional plus fee is the cash
    assert trade["fees"] == pytest.approx(qty * buy * fee + qty * sell * fee, rel=1e-12)
    assert equity[-1] == pytest.approx(qty * sell * (1 - fee), rel=1e-12)
    assert trade["pnl"] == pytest.approx(qty * sell * (1 - fee) - 1000, rel=1e-12)
    # held through bar 1's close: cash 0 plus the position at 100
    assert equity[1] == pytest.approx(qty * 100, rel=1e-12)


# ------------------------------------------------------------------------------- the last bar
def test_a_signal_on_the_last_bar_is_not_executed() -> None:
    trades, equity = run(flat([10, 11, 12, 13]), [0, 0, 0, 1], BacktestConfig(starting_cash=100))
    assert len(trades) == 0
    assert equity == [100, 100, 100, 100]


def test_an_exit_signal_on_the_last_bar_leaves_the_end_of_data_close() -> None:
    bars = [(10, 10, 10, 10), (10, 12, 9, 11), (11, 13, 10, 12)]
    config = BacktestConfig(1000, fee_rate=0.01, slippage_rate=0.005)
    trades, equity = run(bars, [1, 1, 0], config)
    trade = one_trade(trades)
    assert trade["exit_reason"] == "end_of_data"
    assert (trade["exit_bar"], trade["exit_price"]) == (2, 12 * (1 - 0.005))
    assert trade["bars_held"] == 2
    qty = 1000 / (10 * 1.005 * 1.01)
    assert equity[-1] == pytest.approx(qty * 12 * 0.995 * 0.99, rel=1e-12)  # the closing fee is paid


def test_a_position_open_at_the_end_is_closed_at_the_last_close_and_counts() -> None:
    trades, equity = run(flat([10, 10, 20]), [1, 1, 1], BacktestConfig(starting_cash=100, fee_rate=0.001))
    trade = one_trade(trades)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (2, 20.0, "end_of_data")
    assert equity[-1] == pytest.approx(100 / 1.001 * 2 * 0.999)
    assert trade["fees"] == pytest.approx(100 - 100 / 1.001 + 100 / 1.001 * 2 * 0.001)


# -------------------------------------------------------------------------- stops and targets
SL_TP = BacktestConfig(starting_cash=1000, slippage_rate=0.001, stop_loss_pct=2, take_profit_pct=4)


def levels(entry_open: float, config: BacktestConfig = SL_TP) -> tuple[float, float, float]:
    entry = entry_open * (1 + config.slippage_rate)
    assert config.stop_factor is not None and config.target_factor is not None
    return entry, entry * config.stop_factor, entry * config.target_factor


def test_stop_is_taken_first_when_both_levels_are_inside_one_bar() -> None:
    _, stop, target = levels(100)
    bars = [(100, 100, 100, 100), (100, 101, 99.5, 100), (100, target + 5, stop - 5, 100), (100, 100, 100, 100)]
    trades, _ = run(bars, [1, 1, 1, 1], SL_TP)
    trade = one_trade(trades)
    assert (trade["exit_bar"], trade["exit_reason"]) == (2, "stop_loss")
    assert trade["exit_price"] == stop * (1 - SL_TP.slippage_rate)  # a stop fill pays slippage
    assert trade["bars_held"] == 2


def test_take_profit_fills_at_the_target_without_slippage() -> None:
    _, _, target = levels(100)
    bars = [(100, 100, 100, 100), (100, 101, 99.5, 100), (100, target + 1, 99.5, 104), (104, 104, 104, 104)]
    trade = one_trade(run(bars, [1, 1, 1, 1], SL_TP)[0])
    assert (trade["exit_bar"], trade["exit_reason"], trade["exit_price"]) == (2, "take_profit", target)


def test_a_low_exactly_at_the_stop_exits() -> None:
    config = BacktestConfig(starting_cash=1000, stop_loss_pct=2)
    _, stop, _ = levels(100, BacktestConfig(starting_cash=1000, stop_loss_pct=2, take_profit_pct=1))
    bars = [(100, 100, 100, 100), (100, 101, 99, 100), (100, 100, stop, 100), (100, 100, 100, 100)]
    trade = one_trade(run(bars, [1, 1, 1, 1], config)[0])
    assert (trade["exit_bar"], trade["exit_reason"], trade["exit_price"]) == (2, "stop_loss", stop)


def test_the_entry_bar_itself_is_checked() -> None:
    _, stop, _ = levels(100)
    bars = [(100, 100, 100, 100), (100, 100.5, stop - 1, 99), (99, 99, 99, 99)]
    trades, equity = run(bars, [1, 1, 1], SL_TP)
    trade = one_trade(trades)
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_reason"]) == (1, 1, "stop_loss")
    assert trade["bars_held"] == 1
    assert equity[1] == equity[2]  # flat from bar 1's close on


def test_the_entry_bar_open_is_not_a_gap() -> None:
    """With slippage larger than the stop distance the stop sits above the entry open; the entry
    bar is still checked only from its low (rule c), never as a gap at its own open."""
    config = BacktestConfig(starting_cash=1000, slippage_rate=0.03, stop_loss_pct=2)
    stop = 100 * 1.03 * 0.98  # 100.94: above the open of 100
    bars = [(100, 100, 100, 100), (100, 101, 99.9, 100.5), (100.5, 100.5, 100.5, 100.5)]
    trade = one_trade(run(bars, [1, 1, 1], config)[0])
    assert (trade["exit_bar"], trade["exit_reason"]) == (1, "stop_loss")
    assert trade["exit_price"] == pytest.approx(stop * 0.97)


def test_a_gap_through_the_stop_exits_at_the_open_with_slippage() -> None:
    _, stop, _ = levels(100)
    bars = [(100, 100, 100, 100), (100, 101, 99.5, 100), (95, 96, 94, 95.5), (95, 95, 95, 95)]
    trade = one_trade(run(bars, [1, 1, 1, 1], SL_TP)[0])
    assert stop > 96
    assert (trade["exit_bar"], trade["exit_reason"]) == (2, "stop_loss")
    assert trade["exit_price"] == 95 * (1 - SL_TP.slippage_rate)  # the open, not the stop
    assert trade["bars_held"] == 1  # bar 2 only saw the sell at its open


def test_a_gap_through_the_target_exits_at_the_better_open() -> None:
    bars = [(100, 100, 100, 100), (100, 101, 99.5, 100), (110, 111, 90, 105), (95, 95, 95, 95)]
    trade = one_trade(run(bars, [1, 1, 1, 1], SL_TP)[0])
    # the bar's low also crosses the stop, but the gap at the open comes first
    assert (trade["exit_bar"], trade["exit_reason"], trade["exit_price"]) == (2, "take_profit", 110.0)


def test_a_signal_exit_at_the_open_comes_before_a_gap_through_the_stop() -> None:
    bars = [(100, 100, 100, 100), (100, 101, 99.5, 100), (90, 91, 89, 90), (90, 90, 90, 90)]
    trade = one_trade(run(bars, [1, 0, 0, 0], SL_TP)[0])
    assert (trade["exit_bar"], trade["exit_reason"]) == (2, "signal")


def test_after_a_stop_only_a_new_entry_signal_re_enters() -> None:
    _, stop, _ = levels(100)
    bars = [
        (100, 100, 100, 100),
        (100, 101, 99.5, 100),
        (100, 100, stop - 1, 97.5),  # stopped here
        (97, 97.1, 96.9, 97),  # target still 1: no re-entry
        (97, 97.1, 96.9, 97),
        (97, 97.1, 96.9, 97),  # target went 0 -> 1 at bar 4's close: re-enter here
        (97, 97.1, 96.9, 97),
    ]
    trades, _ = run(bars, [1, 1, 1, 0, 1, 1, 1], SL_TP)
    assert trades.entry_bar.tolist() == [1, 5]
    assert trades.exit_reasons() == ["stop_loss", "end_of_data"]


def test_after_a_target_the_strategy_stays_out_while_the_target_stays_one() -> None:
    bars = [(100, 100, 100, 100), (100, 105, 100, 104), *flat([104] * 4)]
    trades, _ = run(bars, [1] * 6, SL_TP)
    assert trades.exit_reasons() == ["take_profit"]


# --------------------------------------------------------------------------------- sizing
def test_fixed_notional_spends_the_amount_fee_included_and_caps_at_the_cash() -> None:
    config = BacktestConfig(starting_cash=150, fee_rate=0.01, sizing="fixed_notional", fixed_notional=100)
    bars = flat([10, 10, 5, 5, 5, 5])
    trades, equity = run(bars, [1, 0, 1, 0, 0, 0], config)
    first_qty = 100 / (10 * 1.01)
    assert trades.qty[0] == pytest.approx(first_qty)
    cash_after_first = 50 + first_qty * 5 * 0.99
    assert cash_after_first < 100
    assert trades.qty[1] == pytest.approx(cash_after_first / (5 * 1.01))  # capped at the cash left
    assert equity[-1] == pytest.approx(trades.qty[1] * 5 * 0.99)


def test_percent_of_equity_spends_that_share_of_the_cash() -> None:
    config = BacktestConfig(starting_cash=1000, sizing="percent_of_equity", equity_pct=25)
    trades, equity = run(flat([10, 10, 20, 20]), [1, 0, 1, 0], config)
    assert trades.qty.tolist() == [25.0, pytest.approx(1250 * 0.25 / 20)]
    assert equity[1] == 1000  # 750 cash + 25 x 10
    assert equity[2] == 1250


# ------------------------------------------------------------------------------ run_backtest
def test_run_backtest_returns_trades_equity_and_metrics() -> None:
    result = run_backtest(candles(flat([10, 10, 20, 20])), [1, 0, 0, 0], BacktestConfig(starting_cash=100))
    assert result.final_equity == 200
    assert result.metrics.trades == 1
    assert result.metrics.total_return == 1.0
    assert result.metrics.bars_per_year == 525_600
    assert result.metrics.cagr is None  # doubling in 4 minutes, compounded over a year, exceeds a float


def test_no_entries_means_no_trades_and_flat_equity() -> None:
    result = run_backtest(candles(flat([10, 11, 12])), [0, 0, 0], BacktestConfig(starting_cash=100))
    assert len(result.trades) == 0
    assert result.equity.tolist() == [100, 100, 100]
    assert result.metrics.sharpe is None and result.metrics.win_rate is None and result.metrics.exposure == 0


# ------------------------------------------------------------------------------------ inputs
@pytest.mark.parametrize("target", [[0, 0.5, 1], [0, math.nan, 1], [0, 1], [0, 1, 1, 1], [0, -1, 1]])
def test_targets_other_than_zero_or_one_of_the_right_length_are_refused(target: list[float]) -> None:
    with pytest.raises(ValidationFailed):
        simulate(candles(flat([10, 11, 12])), np.array(target), BacktestConfig(starting_cash=100))


@pytest.mark.parametrize(
    ("bar", "message"),
    [
        ((10, 9, 8, 9.5), "high below"),
        ((10, 11, 10.5, 10.7), "low above"),
        ((10, 11, -1, 10), "low must be positive"),
        ((10, math.inf, 9, 10), "high must be positive and finite"),
        ((math.nan, 11, 9, 10), "open must be positive"),
    ],
)
def test_invalid_candles_are_refused_naming_the_bar(bar: Bar, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        candles([(10, 11, 9, 10), bar])
    assert caught.value.details == {"bar": 1}


def test_timestamps_must_increase() -> None:
    with pytest.raises(ValidationFailed, match="increase"):
        Candles.from_arrays([0, MINUTE, MINUTE], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"starting_cash": 0},
        {"starting_cash": math.inf},
        {"starting_cash": 100, "fee_rate": -0.001},
        {"starting_cash": 100, "fee_rate": math.nan},
        {"starting_cash": 100, "slippage_rate": 0.5},
        {"starting_cash": 100, "sizing": "fixed_notional"},
        {"starting_cash": 100, "fixed_notional": 10},
        {"starting_cash": 100, "sizing": "percent_of_equity", "equity_pct": 0},
        {"starting_cash": 100, "sizing": "percent_of_equity", "equity_pct": 101},
        {"starting_cash": 100, "stop_loss_pct": 100},
        {"starting_cash": 100, "take_profit_pct": 0},
        {"starting_cash": 100, "sizing": "martingale"},
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        BacktestConfig(**kwargs)  # type: ignore[arg-type]
