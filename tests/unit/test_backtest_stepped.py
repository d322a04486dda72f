"""The stepped (dca, grid) backtest's fill rules, each on a hand-made series: the real dca and grid
step functions, and a scripted strategy that wants given orders on given bars and records the fills
it is shown, so each rule is seen on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from shared.backtest.candles import Candles
from shared.backtest.config import BacktestConfig
from shared.backtest.stepped import SteppedRun, run_stepped_backtest, simulate_stepped
from shared.errors import ValidationFailed
from shared.strategies import grid
from shared.strategies.candles import Candles as StrategyCandles
from shared.strategies.order_plan import Fill, Step, WantedOrder
from shared.strategies.quantities import round_price
from shared.strategies.registry import STRATEGIES, SteppedStrategy
from shared.strategies.stepped_params import DcaParams, GridParams

HOUR = 3_600_000
Bar = tuple[float, float, float, float]  # open, high, low, close
D = Decimal


def candles(bars: Sequence[Bar]) -> Candles:
    columns = list(zip(*bars, strict=True))
    return Candles.from_arrays(np.arange(len(bars)) * HOUR, *columns)


def stepped(name: str) -> SteppedStrategy[Any, Any]:
    strategy = STRATEGIES[name]
    assert isinstance(strategy, SteppedStrategy)
    return strategy


def still(price: float) -> Bar:
    return (price, price, price, price)


# ----------------------------------------------------------------------------------- a scripted strategy
class Script(BaseModel):
    """Orders wanted from the close of a bar on (the last entry at or before it), by bar index."""

    model_config = ConfigDict(frozen=True)
    orders: Mapping[int, tuple[WantedOrder, ...]]


class Seen(BaseModel):
    model_config = ConfigDict(frozen=True)
    fills: tuple[tuple[int, str, str, str], ...] = ()  # (bar of the step, leg, amount, price)


def _scripted_step(params: Script, state: Seen | None, window: StrategyCandles, fills: tuple[Fill, ...]) -> Step[Seen]:
    bar = int(window.timestamp[-1]) // HOUR
    seen = (state or Seen()).fills + tuple((bar, f.leg, str(f.amount), str(f.price)) for f in fills)
    due = [index for index in params.orders if index <= bar]
    orders = params.orders[max(due)] if due else ()
    return Step(Seen(fills=seen), orders, {})


SCRIPTED: SteppedStrategy[Script, Seen] = SteppedStrategy("scripted", Script, Seen, _scripted_step, lambda _: 1)


def buy(leg: str, amount: str, price: str | None = None) -> WantedOrder:
    return WantedOrder(
        leg, "buy", "market" if price is None else "limit", D(amount), None if price is None else D(price), ""
    )


def sell(leg: str, amount: str, price: str | None = None) -> WantedOrder:
    if price is None:
        return WantedOrder(leg, "sell", "market", D(amount), None, "")
    return WantedOrder(leg, "sell", "limit", D(amount), D(price), "")


def scripted(
    bars: Sequence[Bar], orders: Mapping[int, tuple[WantedOrder, ...]], config: BacktestConfig | None = None
) -> SteppedRun:
    return simulate_stepped(
        candles(bars), SCRIPTED, Script(orders=orders), config or BacktestConfig(starting_cash=1000)
    )


def fills_seen(run: SteppedRun) -> list[tuple[int, str, str, str]]:
    return list(run.final_state.fills)


# ----------------------------------------------------------------------------------- rule 1: at the next open
def test_a_market_order_fills_at_the_next_open_with_slippage_and_fee() -> None:
    config = BacktestConfig(starting_cash=1000, fee_rate=0.01, slippage_rate=0.02)
    run = scripted([still(100), (110, 112, 108, 111), still(120)], {0: (buy("b", "2"),)}, config)
    fill_price = 110 * 1.02
    assert fills_seen(run) == [(1, "b", "2", repr(fill_price))]
    cash = 1000 - 2 * fill_price * 1.01
    assert run.equity.tolist() == pytest.approx([1000, cash + 2 * 111, cash + 2 * 120 * 0.98 * 0.99])
    trade = run.trades.records()[0]
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_reason"]) == (1, 2, "end_of_data")
    assert trade["exit_price"] == pytest.approx(120 * 0.98)  # rule 6: a market sell at the last close
    assert trade["fees"] == pytest.approx(2 * fill_price * 0.01 + 2 * 120 * 0.98 * 0.01)


def test_orders_wanted_on_the_last_bar_are_not_executed() -> None:
    run = scripted([still(100), still(100), still(100)], {2: (buy("late", "1"),)})
    assert fills_seen(run) == [] and len(run.trades) == 0
    assert run.equity.tolist() == [1000, 1000, 1000]


def test_a_limit_order_the_open_has_crossed_fills_at_the_open() -> None:
    """A marketable limit order (a buy above the open, a sell below it) takes the open, the better price."""
    bars = [still(100), (98, 99, 97, 98), (103, 104, 102, 103), still(103)]
    run = scripted(bars, {0: (buy("b", "1", "100"),), 1: (sell("s", "1", "101"),)})
    assert fills_seen(run) == [(1, "b", "1", "98.0"), (2, "s", "1", "103.0")]
    trade = run.trades.records()[0]
    assert (trade["entry_price"], trade["exit_price"], trade["bars_held"]) == (98.0, 103.0, 1)


# ----------------------------------------------------------------------------------- rule 2: the range crosses
def test_a_resting_limit_fills_at_its_price_once_the_range_reaches_it() -> None:
    bars = [still(100), (100, 101, 96, 99), (99, 100, 94, 97), still(97)]
    run = scripted(bars, {0: (buy("b", "1", "95"),)})
    assert fills_seen(run) == [(2, "b", "1", "95")]  # bar 1's low (96) missed it, bar 2's (94) reached it


def test_a_resting_limit_gapped_through_by_the_open_fills_at_its_own_price() -> None:
    bars = [still(100), (100, 101, 99, 100), (90, 91, 89, 90), still(90)]
    run = scripted(bars, {0: (buy("b", "1", "95"),)})
    assert fills_seen(run) == [(2, "b", "1", "95")]


# ----------------------------------------------------------------------------------- rule 3: the path inside a bar
@pytest.mark.parametrize(
    ("bar", "first"),
    [
        ((100, 106, 94, 100), "b"),  # the low and the high equally far: the low first
        ((100, 103, 90, 100), "s"),  # the high nearer the open: the high first
        ((100, 112, 98, 100), "b"),  # the low nearer the open
    ],
)
def test_inside_one_bar_the_nearer_extreme_is_reached_first(bar: Bar, first: str) -> None:
    orders = {0: (buy("coins", "1"),), 1: (buy("b", "1", "99"), sell("s", "1", "102"))}
    run = scripted([still(100), still(100), bar, still(100)], orders)
    legs = [leg for _, leg, _, _ in fills_seen(run)]
    assert legs[0] == "coins" and legs[1] == first and sorted(legs[1:]) == ["b", "s"]


def test_a_cancelled_order_releases_its_funds_and_never_fills() -> None:
    bars = [still(100), (100, 100, 99, 100), (100, 100, 80, 80), still(80)]
    run = scripted(bars, {0: (buy("b", "10", "90"),), 1: ()})  # wanted at bar 0, not any more at bar 1
    assert fills_seen(run) == []
    assert run.equity.tolist() == [1000, 1000, 1000, 1000]


# ----------------------------------------------------------------------------------- rule 4: funds
def test_an_order_the_funds_cannot_cover_is_rejected_and_never_placed_again() -> None:
    bars = [still(100)] * 5
    run = scripted(bars, {0: (buy("big", "20", "100"),)})  # 2000 of cash wanted, 1000 there
    assert run.rejected_legs == ("big",)  # once, although every step still wants it
    orders = {0: (buy("b", "5", "100"),), 1: (sell("s", "6", "200"),)}  # sells more coins than held
    run = scripted(bars, orders)
    assert run.rejected_legs == ("s",)
    assert [leg for _, leg, _, _ in fills_seen(run)] == ["b"]


def test_a_limit_buy_reserves_its_cash_with_the_fee() -> None:
    config = BacktestConfig(starting_cash=1000, fee_rate=0.01)
    orders = {0: (buy("a", "5", "99"), buy("b", "5", "99"))}  # 5 x 99 x 1.01 = 499.95 each: both fit
    assert scripted([still(100)] * 3, orders, config).rejected_legs == ()
    orders = {0: (buy("a", "5", "99.5"), buy("b", "5", "99.5"))}  # 502.475 each: the second does not
    assert scripted([still(100)] * 3, orders, config).rejected_legs == ("b",)


# ----------------------------------------------------------------------------------- the real dca
DCA = DcaParams(
    interval="1h", order_notional=D(100), price_deviation_pct=D(10), take_profit_pct=D(10), max_safety_orders=1
)


def test_dca_runs_its_live_cycle_base_safety_rekeyed_take_profit_and_end_of_data() -> None:
    bars = [
        still(100),  # close 0: the base order (market, 1 coin) is wanted
        (100, 101, 99, 100),  # base fills at the open; close 1: tp1 @110 and so1 @90 (1.11111111111 coins)
        (100, 100, 89, 95),  # so1 fills at 90; close 2: tp re-keyed (tp2) at 1.1 x the average entry
        (96, 104, 95, 100),  # tp2 (104.21...) is not reached
        (106, 107, 105, 106),  # the open gaps over tp2: it fills at its own price; close 4: a new base
        (110, 111, 109, 110),  # the new cycle's base fills at the open (100 / 106 coins)
        (110, 120.5, 109, 120),  # the last bar: tp @121 not reached, the coins are sold at the close
    ]
    fee = 0.001
    result, run = run_stepped_backtest(
        candles(bars), stepped("dca"), DCA, BacktestConfig(starting_cash=1000, fee_rate=fee), bar_ms=HOUR
    )
    so_amount = D("1.11111111111")  # 100 / 90 to 12 significant digits, rounded down
    average = (D(100) + so_amount * 90) / (1 + so_amount)
    tp2 = float(round_price(average * D("1.1")))
    trades = result.trades.records()
    assert [(t["entry_bar"], t["exit_bar"], t["exit_reason"]) for t in trades] == [
        (1, 4, "take_profit"),
        (5, 6, "end_of_data"),
    ]
    first, second = trades
    assert first["exit_price"] == pytest.approx(tp2) and first["qty"] == pytest.approx(float(1 + so_amount))
    assert first["entry_price"] == pytest.approx(float(average))
    bought = 100 + float(so_amount) * 90
    assert first["pnl"] == pytest.approx(first["qty"] * tp2 * (1 - fee) - bought * (1 + fee))
    second_qty = float(D(100) / D(106))
    assert second["qty"] == pytest.approx(second_qty, rel=1e-11)
    assert second["exit_price"] == 120.0
    assert run.final_state.closed_cycles == 1 and run.final_state.cycle == 2
    assert run.rejected_legs == ()
    # The books balance: every trade closed, so the pnl adds up to the final equity, and the fees too.
    metrics = result.metrics
    assert metrics.final_equity == pytest.approx(1000 + sum(t["pnl"] for t in trades))
    assert metrics.fees_paid == pytest.approx(sum(t["fees"] for t in trades))
    assert metrics.trades == 2 and metrics.win_rate == 1.0
    assert metrics.exposure == pytest.approx(6 / 7)  # coins held from bar 1 to the end


def test_dca_stop_loss_is_a_market_sell_at_the_next_open() -> None:
    params = DCA.model_copy(update={"stop_loss_pct": D(5), "max_safety_orders": 0})
    bars = [still(100), still(100), (100, 100, 93, 94), (92, 93, 91, 92), still(92)]
    config = BacktestConfig(starting_cash=1000, slippage_rate=0.01)
    result, _ = run_stepped_backtest(candles(bars), stepped("dca"), params, config, bar_ms=HOUR)
    first = result.trades.records()[0]
    # bought 1 at 101 (slippage); close 94 <= 101 x 0.95 -> the stop leg sells at bar 3's open, less slippage
    assert (first["entry_bar"], first["exit_bar"], first["exit_reason"]) == (1, 3, "stop_loss")
    assert first["exit_price"] == pytest.approx(92 * 0.99)
    assert first["bars_held"] == 2  # bars 1 and 2: the sale at bar 3's open ends it before that bar


# ----------------------------------------------------------------------------------- the real grid
GRID = GridParams(lower_price=D(90), upper_price=D(110), levels=3, order_amount=D(1))


def test_grid_fills_both_sides_of_one_bar_and_rearms_only_from_the_next_bar() -> None:
    bars = [
        still(95),  # close 0: cell 0 buys at 90; cell 1 sells at 110 once the init buy has its coin
        (95, 96, 94, 95),  # grid:init fills at the open (1 coin); close 1: the sell @110 is wanted
        (95, 111, 89, 100),  # both reached, the low first (nearer): buy @90 then sell @110
        (104, 105, 99, 101),  # re-armed: sell @100 (crossed by the open: fills at 104), buy @100 (low 99)
        still(101),
    ]
    result, run = run_stepped_backtest(
        candles(bars), stepped("grid"), GRID, BacktestConfig(starting_cash=1000), bar_ms=HOUR
    )
    trades = result.trades.records()
    assert [(t["entry_bar"], t["exit_bar"], t["entry_price"], t["exit_price"]) for t in trades] == [
        (1, 2, 95.0, 110.0),  # the sell of bar 2 is matched first in, first out: the init coin
        (2, 3, 90.0, 104.0),  # the bar-2 buy @90, sold by the re-armed sell at bar 3's open
        (3, 4, 100.0, 101.0),  # the re-armed buy @100, held to the end
    ]
    assert [t["exit_reason"] for t in trades] == ["take_profit", "take_profit", "end_of_data"]
    state = run.final_state
    assert isinstance(state, grid.GridState) and state.round_trips == 2 and state.cells == ("buy", "sell")
    assert result.metrics.final_equity == pytest.approx(1000 + 15 + 14 + 1)


def test_stepped_strategies_refuse_the_indicator_exits_and_sizing() -> None:
    config = BacktestConfig(starting_cash=1000, stop_loss_pct=2)
    with pytest.raises(ValidationFailed, match="sizes its own orders"):
        simulate_stepped(candles([still(100)] * 2), stepped("grid"), GRID, config)
