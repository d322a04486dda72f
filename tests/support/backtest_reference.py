"""A plain bar-by-bar backtest, written to be obviously right rather than fast, for checking the
engine (shared.backtest.engine). Python floats, one pass over the bars, the fill rules in the
order the engine's docstring states them."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.backtest.config import BacktestConfig


@dataclass(frozen=True)
class ReferenceTrade:
    entry_bar: int
    exit_bar: int
    entry_price: float
    exit_price: float
    qty: float
    fees: float
    pnl: float
    exit_reason: str
    bars_held: int


@dataclass
class ReferenceResult:
    trades: list[ReferenceTrade] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)


def entry_budget(config: BacktestConfig, cash: float) -> float:
    """What an entry spends, fee included."""
    if config.sizing == "all_in":
        return cash
    if config.sizing == "percent_of_equity":
        assert config.equity_pct is not None
        return cash * (config.equity_pct / 100.0)
    assert config.fixed_notional is not None
    return min(config.fixed_notional, cash)


def simulate_reference(
    open_: list[float],
    high: list[float],
    low: list[float],
    close: list[float],
    target: list[float],
    config: BacktestConfig,
) -> ReferenceResult:
    n = len(close)
    fee, slip = config.fee_rate, config.slippage_rate
    result = ReferenceResult()
    cash = config.starting_cash
    long = False
    qty = entry_price = stop = take = entry_fee = cash_before = 0.0
    entry_bar = 0

    def sell(bar: int, price: float, reason: str, bars_held: int) -> None:
        nonlocal cash, long
        notional = qty * price
        exit_fee = notional * fee
        cash = cash + notional - exit_fee
        result.trades.append(
            ReferenceTrade(
                entry_bar, bar, entry_price, price, qty, entry_fee + exit_fee, cash - cash_before, reason, bars_held
            )
        )
        long = False

    for i in range(n):
        # --- the open: the order decided at the previous close
        ordered_long = i >= 1 and target[i - 1] == 1.0
        new_entry_signal = ordered_long and (i < 2 or target[i - 2] == 0.0)
        if long:
            if not ordered_long:
                sell(i, open_[i] * (1.0 - slip), "signal", i - entry_bar)
            elif config.stop_factor is not None and open_[i] <= stop:
                sell(i, open_[i] * (1.0 - slip), "stop_loss", i - entry_bar)
            elif config.target_factor is not None and open_[i] >= take:
                sell(i, open_[i], "take_profit", i - entry_bar)
        elif new_entry_signal:
            entry_price = open_[i] * (1.0 + slip)
            budget = entry_budget(config, cash)
            qty = budget / (entry_price * (1.0 + fee))
            entry_fee = budget - qty * entry_price
            cash_before = cash
            cash = cash - budget
            stop = entry_price * config.stop_factor if config.stop_factor is not None else 0.0
            take = entry_price * config.target_factor if config.target_factor is not None else 0.0
            entry_bar = i
            long = True
        # --- inside the bar: stop first, then the target (the entry bar included)
        if long:
            if config.stop_factor is not None and low[i] <= stop:
                sell(i, stop * (1.0 - slip), "stop_loss", i - entry_bar + 1)
            elif config.target_factor is not None and high[i] >= take:
                sell(i, take, "take_profit", i - entry_bar + 1)
        # --- the close: end of data, then mark to market
        if long and i == n - 1:
            sell(i, close[i] * (1.0 - slip), "end_of_data", i - entry_bar + 1)
        result.equity.append(cash + qty * close[i] if long else cash)
    return result
