"""The backtest simulation: a target-position array in, trades and a bar-close equity curve out.

A signal strategy gives `target[i]` in {0.0, 1.0}: the position it wants (flat or long; spot,
long only), decided at the CLOSE of bar i from data up to bar i.

Fill rules (the README quotes these):

1. Orders fill at the NEXT bar's open: a target change at the close of bar i trades at the open of
   bar i + 1 (no look-ahead). A target change on the last bar is not executed. Before the first
   bar the position is flat, so `target[0] == 1` enters at the open of bar 1.
2. Costs: a fee of `fee_rate` x traded notional on each side. Slippage moves market fills against
   the trader: buys at `price x (1 + slippage_rate)`, sells at `price x (1 - slippage_rate)`.
3. Sizing: an entry spends a budget that includes its fee, `qty = budget / (fill x (1 + fee_rate))`
   (budget = all the cash for `all_in`, so notional plus fee equals the cash); no lot rounding.
4. Stop-loss and take-profit levels are `entry fill x (1 - stop_loss_pct/100)` and
   `entry fill x (1 + take_profit_pct/100)`. In each bar while long, in this order:
   a. a signal exit due at this bar's open (target 0 at the previous close) sells at the open;
   b. an open at or below the stop sells at the open (gap through the stop), an open at or above
      the target sells at the open (gap through the target);
   c. `low <= stop` sells at the stop;
   d. `high >= target` sells at the target.
   So when both levels are inside one bar the stop is taken (pessimistic). The entry bar is
   checked too, from (c) on: the position exists from its open, whose price is the entry fill.
5. Slippage on exits: signal exits, stop fills (c) and gaps through the stop (b) are market sells
   and pay slippage; the take-profit is a resting limit sell, so it fills at the target (d), or at
   the better open on a gap (b), without slippage.
6. After a stop or take-profit exit, the next entry needs a NEW entry signal (the target going from
   0 to 1 again), not a target that is still 1.
7. A position still open after the last bar is sold at the last bar's close, with fee and
   slippage (a market sell), and counts as a trade (`end_of_data`).
8. Equity is cash plus qty x close at every bar's close; on the last bar it is the cash after the
   end-of-data sale, so `equity[-1]` is the final cash.

How it is fast (no Python loop over bars): with one position at a time, every run of bars whose
order says "long" yields exactly one trade that enters at the run's first open; stops only end it
early, and rule 6 means an early end never starts another trade inside the same run. So entries
and signal exits are the target's edges; the first stop/target touch of every run is one pass of
`low <= stop | high >= target` over the bars with the run's levels repeated onto them, then one
`searchsorted`; cash compounds trade over trade with a `cumprod` (a short Python loop over trades
for `fixed_notional`, whose cap on the cash is not a product); the equity curve is cash and qty
repeated over their spans. The prices and bars are the same floats a bar-by-bar loop computes;
cash amounts may differ from it by rounding (about 1e-15 relative per trade).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from shared.backtest.candles import Candles, FloatArray, IntArray
from shared.backtest.config import BacktestConfig
from shared.backtest.results import END_OF_DATA, SIGNAL, STOP_LOSS, TAKE_PROFIT, BacktestResult, Trades
from shared.errors import ValidationFailed


def run_backtest(
    candles: Candles, target: npt.ArrayLike, config: BacktestConfig, *, bar_ms: int | None = None
) -> BacktestResult:
    """Simulate and compute the metrics. `bar_ms` (the timeframe, for annualizing) is inferred
    from the timestamps when not given."""
    from shared.backtest.metrics import compute_metrics

    trades, equity = simulate(candles, target, config)
    timeframe_ms = bar_ms if bar_ms is not None else candles.bar_ms()
    metrics = compute_metrics(equity, trades, candles.timestamps, config.starting_cash, timeframe_ms)
    return BacktestResult(trades=trades, equity=equity, metrics=metrics)


def long_target(target: npt.ArrayLike, n: int) -> npt.NDArray[np.bool_]:
    """The target as booleans (True = long), refusing anything but 0.0/1.0 of the right length:
    fractional positions are not modelled, and a NaN must not silently mean flat."""
    values = np.asarray(target, dtype=np.float64)
    if values.shape != (n,):
        raise ValidationFailed(f"target has shape {values.shape}, expected ({n},)")
    is_long: npt.NDArray[np.bool_] = values == 1.0
    if not bool(np.all(is_long | (values == 0.0))):
        bar = int(np.argmin(is_long | (values == 0.0)))
        raise ValidationFailed(f"target must be 0.0 or 1.0 (bar {bar})", details={"bar": bar})
    return is_long


def simulate(candles: Candles, target: npt.ArrayLike, config: BacktestConfig) -> tuple[Trades, FloatArray]:
    """The trades and the equity curve under the module's fill rules."""
    n = len(candles)
    is_long = long_target(target, n)
    # wanted[i]: the position ordered for bar i's open, i.e. the target at the close of bar i - 1.
    wanted = np.zeros(n, dtype=np.int8)
    wanted[1:] = is_long[:-1]
    edges = wanted[1:] - wanted[:-1]
    starts: IntArray = (np.flatnonzero(edges == 1) + 1).astype(np.int64)
    signal_exits: IntArray = (np.flatnonzero(edges == -1) + 1).astype(np.int64)
    count = starts.shape[0]
    if count == 0:
        return _no_trades(), np.full(n, config.starting_cash, dtype=np.float64)
    # A run still long at the end has no signal exit: `n` stands for "after the last bar".
    ends = np.full(count, n, dtype=np.int64)
    ends[: signal_exits.shape[0]] = signal_exits

    slip = config.slippage_rate
    sell = 1.0 - slip
    entry_price = candles.open[starts] * (1.0 + slip)
    has_signal_exit = ends < n
    exit_bar = np.where(has_signal_exit, ends, n - 1)
    exit_price = np.where(has_signal_exit, candles.open[exit_bar] * sell, candles.close[n - 1] * sell)
    exit_code = np.where(has_signal_exit, SIGNAL, END_OF_DATA).astype(np.int8)
    bars_held = np.where(has_signal_exit, ends - starts, n - starts)

    if config.stop_factor is not None or config.target_factor is not None:
        _apply_stops(candles, config, starts, ends, entry_price, exit_bar, exit_price, exit_code, bars_held)

    cash_before, budget = _cash_before_entries(config, entry_price, exit_price)
    fee = config.fee_rate
    qty = budget / (entry_price * (1.0 + fee))
    entry_fee = budget - qty * entry_price
    cash_during = cash_before - budget
    exit_notional = qty * exit_price
    exit_fee = exit_notional * fee
    cash_after = cash_during + exit_notional - exit_fee

    equity = _equity_curve(candles.close, config.starting_cash, starts, exit_bar, cash_during, cash_after, qty)
    trades = Trades(
        entry_bar=starts,
        exit_bar=exit_bar,
        entry_price=entry_price,
        exit_price=exit_price,
        qty=qty,
        fees=entry_fee + exit_fee,
        pnl=cash_after - cash_before,
        exit_code=exit_code,
        bars_held=bars_held,
    )
    return trades, equity


def _apply_stops(
    candles: Candles,
    config: BacktestConfig,
    starts: IntArray,
    ends: IntArray,
    entry_price: FloatArray,
    exit_bar: IntArray,
    exit_price: FloatArray,
    exit_code: npt.NDArray[np.int8],
    bars_held: IntArray,
) -> None:
    """End each trade at its first stop/target touch before its signal exit (rules 4-5), in place.

    Every bar from a trade's entry to the bar before its signal exit gets the trade's levels (other
    bars get levels no price reaches); the first touching bar at or after each entry, if it comes
    before that trade's end, is where the trade ends. A touch is `low <= stop or high >= target`;
    valid candles have `low <= open <= high`, so this also catches gaps, which are then told apart
    by the open.
    """
    n = len(candles)
    count = starts.shape[0]
    stop_factor, target_factor = config.stop_factor, config.target_factor
    stop = entry_price * stop_factor if stop_factor is not None else np.full(count, -np.inf)
    target = entry_price * target_factor if target_factor is not None else np.full(count, np.inf)

    span_lengths = _interleaved_lengths(starts, ends, n)
    touched = np.zeros(n, dtype=np.bool_)
    if stop_factor is not None:
        touched |= candles.low <= np.repeat(_interleave(-np.inf, stop), span_lengths)
    if target_factor is not None:
        touched |= candles.high >= np.repeat(_interleave(np.inf, target), span_lengths)
    touch_bars = np.flatnonzero(touched)
    if touch_bars.shape[0] == 0:
        return
    first = np.searchsorted(touch_bars, starts)
    touch = touch_bars[np.minimum(first, touch_bars.shape[0] - 1)]
    hit = np.flatnonzero((first < touch_bars.shape[0]) & (touch < ends))
    if hit.shape[0] == 0:
        return

    bar = touch[hit].astype(np.int64)
    level_stop, level_target = stop[hit], target[hit]
    opening = candles.open[bar]
    after_entry = bar > starts[hit]
    gap_stop = after_entry & (opening <= level_stop)
    gap_target = after_entry & ~gap_stop & (opening >= level_target)
    at_open = gap_stop | gap_target
    is_stop = gap_stop | (~at_open & (candles.low[bar] <= level_stop))
    sell = 1.0 - config.slippage_rate
    price = np.where(
        gap_stop, opening * sell, np.where(gap_target, opening, np.where(is_stop, level_stop * sell, level_target))
    )
    exit_bar[hit] = bar
    exit_price[hit] = price
    exit_code[hit] = np.where(is_stop, STOP_LOSS, TAKE_PROFIT)
    bars_held[hit] = bar - starts[hit] + np.where(at_open, 0, 1)


def _cash_before_entries(
    config: BacktestConfig, entry_price: FloatArray, exit_price: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Cash before each entry and the budget that entry spends (rule 3).

    For all-in and %-of-equity sizing each trade multiplies the cash by a factor that depends only
    on its prices, so the cash before trade k is a cumulative product. A fixed notional is capped by
    the cash, which is not a product: a loop over trades (not bars) then.
    """
    fee = config.fee_rate
    # Quote back per quote spent (fee included) on a round trip.
    round_trip = (exit_price * (1.0 - fee)) / (entry_price * (1.0 + fee))
    count = entry_price.shape[0]
    cash_before = np.empty(count)
    cash_before[0] = config.starting_cash
    if config.fixed_notional is not None:  # the config allows it only with sizing=fixed_notional
        notional = config.fixed_notional
        entries, exits = entry_price.tolist(), exit_price.tolist()
        budgets = []
        cash = config.starting_cash
        for k in range(count):
            spend = min(notional, cash)
            budgets.append(spend)
            cash_before[k] = cash
            qty = spend / (entries[k] * (1.0 + fee))
            proceeds = qty * exits[k]
            cash = (cash - spend) + proceeds - proceeds * fee
        return cash_before, np.array(budgets)
    if config.equity_pct is not None:  # only with sizing=percent_of_equity
        share = config.equity_pct / 100.0
        factor = (1.0 - share) + share * round_trip
    else:
        share = 1.0
        factor = round_trip
    np.cumprod(factor[:-1], out=cash_before[1:])
    cash_before[1:] *= config.starting_cash
    return cash_before, cash_before * share if share != 1.0 else cash_before


def _interleave(gap_value: float, values: FloatArray) -> FloatArray:
    """[gap, v0, gap, v1, ..., gap]: one value per span of `_interleaved_lengths`."""
    out = np.full(2 * values.shape[0] + 1, gap_value)
    out[1::2] = values
    return out


def _interleaved_lengths(starts: IntArray, stops: IntArray, n: int) -> IntArray:
    """Lengths of [0, s0), [s0, e0), [e0, s1), ..., [e_last, n): the spans between and of the trades."""
    bounds = np.empty(2 * starts.shape[0] + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1:-1:2] = starts
    bounds[2:-1:2] = np.minimum(stops, n)
    bounds[-1] = n
    return np.diff(bounds)


def _equity_curve(
    close: FloatArray,
    starting_cash: float,
    starts: IntArray,
    exit_bar: IntArray,
    cash_during: FloatArray,
    cash_after: FloatArray,
    qty: FloatArray,
) -> FloatArray:
    """Cash plus qty x close at each close (rule 8). A trade holds the position at the closes of
    bars [entry, exit_bar): an exit at an open or inside a bar leaves it flat at that bar's close,
    and the end-of-data exit (exit_bar = last bar) is already sold at the last close."""
    lengths = _interleaved_lengths(starts, exit_bar, close.shape[0])
    cash_values = np.empty(lengths.shape[0])
    cash_values[0] = starting_cash
    cash_values[1::2] = cash_during
    cash_values[2::2] = cash_after
    position_value = np.repeat(_interleave(0.0, qty), lengths)
    np.multiply(position_value, close, out=position_value)
    equity: FloatArray = np.repeat(cash_values, lengths)
    equity += position_value
    return equity


def _no_trades() -> Trades:
    empty_int = np.zeros(0, dtype=np.int64)
    empty_float = np.zeros(0)
    return Trades(
        entry_bar=empty_int,
        exit_bar=empty_int,
        entry_price=empty_float,
        exit_price=empty_float,
        qty=empty_float,
        fees=empty_float,
        pnl=empty_float,
        exit_code=np.zeros(0, dtype=np.int8),
        bars_held=empty_int,
    )
