"""Backtests of the stepped strategies (dca, grid): their live `step` function, bar by bar, against
a simulated order book. The README quotes these rules.

The live strategy worker steps a dca or grid bot once per closed bar: it passes the fills its
orders got since the last step, places every wanted leg it has not placed yet, and cancels its
open orders whose leg is no longer wanted (`shared.bots.tick`). Here the same `step` runs at the
close of every bar but the last, and what it decides is executed from the next bar on:

1. At the open of bar i + 1, first the cancels (their reservations are released), then the new
   legs in the order the step listed them. A market order fills at once at the open, moved by
   slippage (`open x (1 + slippage)` for a buy, `x (1 - slippage)` for a sell). A limit order
   that the open has already crossed (a buy at or above the open, a sell at or below it) fills at
   once at the open, without slippage (the better price, as the paper exchange fills a marketable
   limit order); otherwise it rests.
2. A resting limit order fills at its own price, without slippage, once the bar's range reaches
   it: a buy when `low <= price`, a sell when `high >= price`, every order in full. An order that
   rested before this bar and is gapped through by the open still fills at its price.
3. Inside one bar the price is taken to move from the open to the nearer of the low and the high
   (the low on a tie), then to the other one, then to the close. Resting orders fill in the order
   that path reaches their prices; the step sees the fills in that order at the bar's close.
   Orders re-armed by a fill (a grid's opposite side, a dca take profit re-keyed by a safety fill)
   are placed by the next step, so they can fill from the next bar on, never in the same bar.
4. Funds as on the paper exchange: a limit buy reserves `amount x price x (1 + fee)` of cash and a
   sell its coins when it is placed; a market buy needs `amount x fill x (1 + fee)` of free cash.
   An order the free funds cannot cover is rejected, and its leg is never placed again (a live
   leg that ended is not placed twice).
5. Fees: `fee_rate` of the traded notional on every fill (maker or taker alike), paid in cash.
   Amounts and prices are the strategy's own, without the market's lot or tick rounding.
6. End of data: open orders are cancelled and the coins still held are sold at the last close
   with fee and slippage (a market sell), counted as `end_of_data` trades.
7. Trades: every sell fill closes a trade against the earlier buy fills, first in, first out.
   Its entry bar and price are the first matched buy's bar and the average matched buy price, its
   fees the matched share of the buy fees plus the sell fee, its pnl proceeds minus fees minus the
   matched cost. A dca stop loss (`...:sl`) exits as `stop_loss`, other sells (take profits, grid
   sells) as `take_profit`.
8. Equity is cash (reserved cash included) plus the coins held (reserved coins included) times the
   close, at every bar's close; on the last bar after the end-of-data sale. Exposure counts the
   bars during which any coins were held.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from shared.backtest.candles import Candles, FloatArray
from shared.backtest.config import BacktestConfig
from shared.backtest.results import END_OF_DATA, STOP_LOSS, TAKE_PROFIT, BacktestResult, Trades
from shared.errors import ValidationFailed
from shared.strategies.candles import Candles as StrategyCandles
from shared.strategies.order_plan import Fill, WantedOrder, price_of
from shared.strategies.registry import SteppedStrategy

_TradeRow = tuple[int, int, float, float, float, float, float, int, int]
_NONE = Decimal(0)
_DUST = 1e-12  # relative: a lot this much of its first size is used up (float rounding)


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill of one leg, for comparing a run with a live bot's orders."""

    bar: int
    leg: str
    side: str
    price: float
    amount: float


@dataclass(slots=True)
class _Order:
    leg: str
    side: str
    amount: float
    price: float
    decimal_amount: Decimal
    decimal_price: Decimal
    reserved_cash: float  # held for a buy; a sell holds its `decimal_amount` of coins
    placed_bar: int


@dataclass(slots=True)
class _Lot:
    bar: int
    price: float
    qty: float
    fee: float


@dataclass(slots=True)
class _Book:
    """Cash, coins and resting orders, with the fills that make the trades."""

    fee: float
    slip: float
    cash: float
    reserved_cash: float = 0.0
    coins: Decimal = _NONE  # exact, as the strategy counts them: a sale of its whole position is covered
    reserved_coins: Decimal = _NONE
    resting: dict[str, _Order] = field(default_factory=dict)
    lots: deque[_Lot] = field(default_factory=deque)
    trade_rows: list[_TradeRow] = field(default_factory=list)
    fill_log: list[FillRecord] = field(default_factory=list)
    fees_paid: float = 0.0
    held_this_bar: bool = False

    # ---------------------------------------------------------------- placing and cancelling
    def cancel(self, leg: str) -> None:
        order = self.resting.pop(leg, None)
        if order is None:
            return
        self._release(order)

    def _release(self, order: _Order) -> None:
        if order.side == "buy":
            self.reserved_cash -= order.reserved_cash
            self.cash += order.reserved_cash
        else:
            self.reserved_coins -= order.decimal_amount
            self.coins += order.decimal_amount

    def place(self, wanted: WantedOrder, bar: int, opening: float) -> Fill | bool:
        """Place at `bar`'s open. A fill when it filled at once, True when it rests, False when rejected."""
        amount = float(wanted.amount)
        if wanted.type == "market":
            price = opening * (1.0 + self.slip) if wanted.side == "buy" else opening * (1.0 - self.slip)
            covered = (
                amount * price * (1.0 + self.fee) <= self.cash if wanted.side == "buy" else wanted.amount <= self.coins
            )
            if not covered:
                return False
            return self._fill(wanted.leg, wanted.side, amount, price, bar, wanted.amount, price_of(price), at_open=True)
        if wanted.price is None:  # WantedOrder refuses a limit order without one
            raise ValueError(f"limit order {wanted.leg} has no price")
        limit = float(wanted.price)
        reserve = 0.0
        if wanted.side == "buy":
            reserve = amount * limit * (1.0 + self.fee)
            if reserve > self.cash:
                return False
            self.cash -= reserve
            self.reserved_cash += reserve
        else:
            if wanted.amount > self.coins:
                return False
            self.coins -= wanted.amount
            self.reserved_coins += wanted.amount
        order = _Order(wanted.leg, wanted.side, amount, limit, wanted.amount, wanted.price, reserve, bar)
        self.resting[wanted.leg] = order
        if (wanted.side == "buy" and limit >= opening) or (wanted.side == "sell" and limit <= opening):
            return self.fill_resting(order, bar, opening, price_of(opening), at_open=True)
        return True

    # ---------------------------------------------------------------- filling
    def fill_resting(
        self, order: _Order, bar: int, price: float, decimal_price: Decimal, *, at_open: bool = False
    ) -> Fill:
        del self.resting[order.leg]
        self._release(order)
        return self._fill(
            order.leg, order.side, order.amount, price, bar, order.decimal_amount, decimal_price, at_open=at_open
        )

    def _fill(
        self,
        leg: str,
        side: str,
        amount: float,
        price: float,
        bar: int,
        decimal_amount: Decimal,
        decimal_price: Decimal,
        *,
        at_open: bool,
    ) -> Fill:
        notional = amount * price
        fee = notional * self.fee
        self.fees_paid += fee
        self.fill_log.append(FillRecord(bar, leg, side, price, amount))
        if side == "buy":
            self.cash -= notional + fee
            self.coins += decimal_amount
            self.lots.append(_Lot(bar, price, amount, fee))
        else:
            self.coins -= decimal_amount
            self.cash += notional - fee
            code = STOP_LOSS if leg.endswith(":sl") else TAKE_PROFIT
            self._close_trade(amount, price, fee, bar, code, at_open=at_open)
        self.held_this_bar = True
        return Fill(leg, "buy" if side == "buy" else "sell", decimal_amount, decimal_price, closes_order=True)

    def _close_trade(self, amount: float, price: float, sell_fee: float, bar: int, code: int, *, at_open: bool) -> None:
        """Match a sale against the oldest buys (rule 7). Coins sold beyond the lots (none, with
        funds checked) would count at cost zero."""
        remaining = amount
        cost = fees = 0.0
        entry_bar = bar
        first = True
        while remaining > 0 and self.lots:
            lot = self.lots[0]
            take = min(lot.qty, remaining)
            share = take / lot.qty
            if first:
                entry_bar, first = lot.bar, False
            cost += take * lot.price
            fees += lot.fee * share
            lot.fee -= lot.fee * share
            lot.qty -= take
            remaining -= take
            if lot.qty <= _DUST * take:
                self.lots.popleft()
        matched = amount - max(remaining, 0.0)
        entry_price = cost / matched if matched > 0 else price
        pnl = amount * price - sell_fee - cost - fees
        held = bar - entry_bar + (0 if at_open else 1)
        self.trade_rows.append((entry_bar, bar, entry_price, price, amount, fees + sell_fee, pnl, code, held))

    def fill_inside(self, bar: int, opening: float, low: float, high: float) -> list[Fill]:
        """Rules 2-3: the resting orders the bar's range reaches, in the order its path reaches them."""
        down_first = opening - low <= high - opening
        reached: list[tuple[float, _Order]] = []
        for order in self.resting.values():
            if order.side == "buy" and low <= order.price:
                distance = opening - order.price if down_first else (high - opening) + (high - order.price)
            elif order.side == "sell" and high >= order.price:
                distance = (opening - low) + (order.price - low) if down_first else order.price - opening
            else:
                continue
            reached.append((distance, order))
        reached.sort(key=lambda item: item[0])
        return [self.fill_resting(order, bar, order.price, order.decimal_price) for _, order in reached]

    def sell_everything(self, bar: int, close: float) -> None:
        """Rule 6."""
        for leg in list(self.resting):
            self.cancel(leg)
        if self.coins > 0:
            amount, price = float(self.coins), close * (1.0 - self.slip)
            fee = amount * price * self.fee
            self.fees_paid += fee
            self.cash += amount * price - fee
            self.coins = _NONE
            self._close_trade(amount, price, fee, bar, END_OF_DATA, at_open=False)

    def equity(self, close: float) -> float:
        return self.cash + self.reserved_cash + float(self.coins + self.reserved_coins) * close


class _Plan:
    """The live worker's bookkeeping of legs (`shared.bots.tick._stepped_tick`): what the last step
    wants placed and cancelled at the next open, and the fills the next step will see."""

    def __init__(self) -> None:
        self.legs: dict[str, str | None] = {}  # leg -> None while open, else how it ended
        self.to_cancel: list[str] = []
        self.to_place: list[WantedOrder] = []
        self.fills: list[Fill] = []
        self.rejected: list[str] = []

    def execute_at_open(self, book: _Book, bar: int, opening: float) -> None:
        """Rule 1: the cancels, then the new legs in the step's order."""
        for leg in self.to_cancel:
            book.cancel(leg)
            self.legs[leg] = "canceled"
        for wanted in self.to_place:
            placed = book.place(wanted, bar, opening)
            if placed is False:
                self.legs[wanted.leg] = "rejected"
                self.rejected.append(wanted.leg)
            elif isinstance(placed, Fill):
                self.legs[wanted.leg] = "filled"
                self.fills.append(placed)
            else:
                self.legs[wanted.leg] = None
        self.to_cancel, self.to_place = [], []

    def decide(self, orders: tuple[WantedOrder, ...]) -> None:
        """A step's wanted orders: new legs to place, open legs no longer wanted to cancel; a leg
        that ended stays known while it is wanted (never placed twice), then is forgotten."""
        self.fills = []
        wanted = {order.leg: order for order in orders}
        self.to_place = [order for leg, order in wanted.items() if leg not in self.legs]
        for leg, ended in list(self.legs.items()):
            if leg in wanted:
                continue
            if ended is None:
                self.to_cancel.append(leg)
            else:
                del self.legs[leg]


@dataclass(frozen=True, slots=True)
class SteppedRun:
    trades: Trades
    equity: FloatArray
    exposure_bars: int
    rejected_legs: tuple[str, ...]
    final_state: Any
    fills: tuple[FillRecord, ...]  # every leg's fill in execution order (the end-of-data sale is not a leg)


def simulate_stepped(
    candles: Candles, strategy: SteppedStrategy[Any, Any], params: Any, config: BacktestConfig
) -> SteppedRun:
    """Run `strategy.step` over every bar under the module's rules."""
    if config.sizing != "all_in" or config.stop_factor is not None or config.target_factor is not None:
        raise ValidationFailed(
            f"{strategy.name} sizes its own orders and sets its own exits: "
            "sizing, stop_loss_pct and take_profit_pct do not apply"
        )
    n = len(candles)
    times = candles.timestamps
    lookback = max(int(strategy.lookback(params)), 1)
    opens, highs, lows, closes = (a.tolist() for a in (candles.open, candles.high, candles.low, candles.close))
    book = _Book(fee=config.fee_rate, slip=config.slippage_rate, cash=config.starting_cash)
    plan = _Plan()
    equity = np.empty(n)
    exposure = 0
    state: Any = None
    for i in range(n):
        opening = opens[i]
        plan.execute_at_open(book, i, opening)
        book.held_this_bar = book.coins + book.reserved_coins > 0  # a sale at the open ends it before the bar
        for fill in book.fill_inside(i, opening, lows[i], highs[i]):
            plan.legs[fill.leg] = "filled"
            plan.fills.append(fill)
        if i == n - 1:
            book.sell_everything(i, closes[i])
        else:
            first = max(i + 1 - lookback, 0)
            window = StrategyCandles(
                times[first : i + 1],
                candles.open[first : i + 1],
                candles.high[first : i + 1],
                candles.low[first : i + 1],
                candles.close[first : i + 1],
                candles.volume[first : i + 1],
            )
            step = strategy.step(params, state, window, tuple(plan.fills))
            state = step.state
            plan.decide(step.orders)
        if book.held_this_bar:
            exposure += 1
        equity[i] = book.equity(closes[i])
    return SteppedRun(_trades(book.trade_rows), equity, exposure, tuple(plan.rejected), state, tuple(book.fill_log))


def _trades(rows: list[_TradeRow]) -> Trades:
    columns = list(zip(*rows, strict=True)) if rows else [()] * 9
    return Trades(
        entry_bar=np.array(columns[0], dtype=np.int64),
        exit_bar=np.array(columns[1], dtype=np.int64),
        entry_price=np.array(columns[2], dtype=np.float64),
        exit_price=np.array(columns[3], dtype=np.float64),
        qty=np.array(columns[4], dtype=np.float64),
        fees=np.array(columns[5], dtype=np.float64),
        pnl=np.array(columns[6], dtype=np.float64),
        exit_code=np.array(columns[7], dtype=np.int8),
        bars_held=np.array(columns[8], dtype=np.int64),
    )


def run_stepped_backtest(
    candles: Candles, strategy: SteppedStrategy[Any, Any], params: Any, config: BacktestConfig, *, bar_ms: int
) -> tuple[BacktestResult, SteppedRun]:
    """Simulate and compute the metrics (exposure from the bars with coins, since trades overlap)."""
    from shared.backtest.metrics import compute_metrics

    run = simulate_stepped(candles, strategy, params, config)
    metrics = compute_metrics(
        run.equity, run.trades, candles.timestamps, config.starting_cash, bar_ms, exposure_bars=run.exposure_bars
    )
    return BacktestResult(trades=run.trades, equity=run.equity, metrics=metrics), run
