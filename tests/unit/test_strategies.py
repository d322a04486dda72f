"""Strategies: decisions on hand-made candles, no look-ahead, the dca ladder, grid re-arming, the registry."""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.strategies import dca, grid
from shared.strategies.candles import Candles
from shared.strategies.evaluation import held_positions
from shared.strategies.indicator_params import (
    BollingerReversionParams,
    EmaCrossParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from shared.strategies.order_plan import Fill, Step, WantedOrder
from shared.strategies.params import STRATEGY_TYPES, StrategyConfig
from shared.strategies.registry import STRATEGIES, ExternalStrategy, IndicatorStrategy, SteppedStrategy
from shared.strategies.stepped_params import DcaParams, GridParams

D = Decimal
MINUTE = 60_000


def candles_of(closes: list[float], start: int = 1_700_000_000_000) -> Candles:
    """Bars whose open, high, low and close are all the close: enough for close-driven strategies."""
    close = np.array(closes, dtype=np.float64)
    stamps = start + MINUTE * np.arange(close.size, dtype=np.int64)
    return Candles(stamps, close, close, close, close, np.ones(close.size))


def indicator(name: str) -> IndicatorStrategy[Any]:
    strategy = STRATEGIES[name]
    assert isinstance(strategy, IndicatorStrategy)
    return strategy


def positions(name: str, closes: list[float], params: BaseModel) -> list[float]:
    return [float(value) for value in indicator(name).target_positions(candles_of(closes), params)]


# ------------------------------------------------------------------ candles


def test_candles_are_checked_and_read_only() -> None:
    bars = candles_of([1.0, 2.0, 3.0])
    assert len(bars) == 3
    assert bars.timestamp.dtype == np.int64
    assert bars.close.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 5.0
    source = np.array([1.0, 2.0])
    copied = Candles(np.array([1, 2]), source, source, source, source, source)
    source[0] = 99.0
    assert copied.close[0] == 1.0  # a copy: the caller's array can change, the candles cannot


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"close": [1.0, np.nan]}, "close holds a NaN"),
        ({"high": [1.0, np.inf]}, "high holds a NaN or infinite"),
        ({"volume": [1.0]}, "volume has 1 bars, timestamp has 2"),
        ({"timestamp": [5, 5]}, "strictly increasing"),
        ({"timestamp": [[1, 2]]}, "one-dimensional"),
    ],
)
def test_bad_candles_are_refused(change: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "timestamp": [1, 2],
        "open": [1.0, 1.0],
        "high": [1.0, 1.0],
        "low": [1.0, 1.0],
        "close": [1.0, 1.0],
        "volume": [1.0, 1.0],
    }
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        Candles(**fields)


def test_candles_from_ccxt_rows_and_windows() -> None:
    rows = [[1000, 1.0, 2.0, 0.5, 1.5, 10.0], [2000, 1.5, 2.5, 1.0, 2.0, 11.0], [3000, 2.0, 3.0, 1.5, 2.5, 12.0]]
    bars = Candles.from_rows(rows)
    assert bars.timestamp.tolist() == [1000, 2000, 3000]
    assert bars.high.tolist() == [2.0, 2.5, 3.0]
    assert bars.head(2).close.tolist() == [1.5, 2.0]
    assert bars.tail(2).timestamp.tolist() == [2000, 3000]
    assert len(bars.tail(10)) == 3
    assert len(Candles.from_rows([])) == 0


# ------------------------------------------------------------------ indicator strategies on hand-made series

UP_THEN_DOWN = [1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0]


def test_sma_cross_is_long_while_fast_above_slow() -> None:
    # SMA(2): 1.5 2.5 3.5 4.5 4.5 3.5 ..., SMA(3): 2 3 4 4.33 4 ...: fast on top from bar 2 to bar 5.
    assert positions("sma_cross", UP_THEN_DOWN, SmaCrossParams(fast=2, slow=3)) == [0, 0, 1, 1, 1, 1, 0, 0, 0]


def test_ema_cross_is_long_while_fast_above_slow() -> None:
    # EMA(2) at bar 6 is 3.39 against EMA(3) 3.5: the turn shows one bar after the top, as with the SMAs.
    assert positions("ema_cross", UP_THEN_DOWN, EmaCrossParams(fast=2, slow=3)) == [0, 0, 1, 1, 1, 1, 0, 0, 0]


def test_ema_cross_reacts_faster_than_sma_cross() -> None:
    closes = [10.0] * 6 + [13.0, 8.0]
    # After the spike and drop the EMAs already say "down" at bar 7 (EMA(2) 9.33 < EMA(4) 9.92),
    # while the fast SMA(2) = 10.5 still sits above the slow SMA(4) = 10.25.
    assert positions("sma_cross", closes, SmaCrossParams(fast=2, slow=4))[7] == 1
    assert positions("ema_cross", closes, EmaCrossParams(fast=2, slow=4))[7] == 0


def test_macd_cross_is_long_while_macd_above_signal() -> None:
    closes = [1.0, 2.0, 4.0, 8.0, 16.0, 8.0, 4.0, 2.0, 1.0]
    # MACD(2, 3, 2) starts at bar 3 (7/6 over a signal of 11/12) and drops under its signal after the top.
    assert positions("macd_cross", closes, MacdCrossParams(fast=2, slow=3, signal=2)) == [0, 0, 0, 1, 1, 0, 0, 0, 0]


def test_rsi_reversion_enters_oversold_holds_and_exits_overbought() -> None:
    closes = [10.0, 9.0, 8.0, 7.0, 7.5, 7.0, 7.5, 9.0, 11.0, 10.5, 11.0]
    # RSI(2): 0, 0 (enter), 33, 20, 56 (in between: hold), 88 (exit), then above 70: flat.
    params = RsiReversionParams(period=2, oversold=30, overbought=70)
    assert positions("rsi_reversion", closes, params) == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]


def test_rsi_reversion_between_its_thresholds_is_carried() -> None:
    bars = candles_of([10.0, 9.0, 8.0, 7.0, 7.5])  # RSI(2) 33 at the last bar: neither condition
    decision = indicator("rsi_reversion").decide_last(bars, RsiReversionParams(period=2))
    assert decision.carried
    assert decision.position == 1.0  # what the window shows: the entry at bar 2
    assert decision.indicators["rsi"] == pytest.approx(100 / 3)
    entered = indicator("rsi_reversion").decide_last(bars.head(3), RsiReversionParams(period=2))
    assert not entered.carried
    assert entered.position == 1.0


def test_rsi_reversion_ignores_a_market_that_never_moved() -> None:
    # TA-Lib's RSI of a flat market is 0, "oversold": the strategy must not buy on it.
    assert positions("rsi_reversion", [5.0] * 10, RsiReversionParams(period=3)) == [0] * 10


def test_bollinger_reversion_exits_at_the_middle_band() -> None:
    closes = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 8.0, 8.6, 9.6, 9.8]
    params = BollingerReversionParams(period=4, std_dev=1.0)
    evaluation = indicator("bollinger_reversion").evaluate(candles_of(closes), params)
    # Bar 6 closes under the lower band (8 < 8.63): enter. Bar 7 is between lower and middle: hold.
    # Bar 8 closes above the middle band but below the upper one (9.05 < 9.6 < 9.84): exit there.
    assert [float(value) for value in evaluation.positions] == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert evaluation.decided is not None
    assert evaluation.decided[6:9].tolist() == [True, False, True]  # bar 7 carries bar 6's entry
    middle, upper = evaluation.indicators["middle_band"][8], evaluation.indicators["upper_band"][8]
    assert middle < closes[8] < upper


def test_held_positions_when_both_conditions_hold_leaves() -> None:
    enter = np.array([True, False, True, False])
    leave = np.array([False, False, True, False])
    assert held_positions(enter, leave).tolist() == [1, 1, 0, 0]
    assert held_positions(np.array([False, False]), np.array([False, True])).tolist() == [0, 0]


def test_decide_last_reports_the_values_that_mattered() -> None:
    bars = candles_of(UP_THEN_DOWN[:6])
    decision = indicator("sma_cross").decide_last(bars, SmaCrossParams(fast=2, slow=3))
    assert decision.bar_time == int(bars.timestamp[-1])
    assert decision.position == 1.0
    assert not decision.carried
    assert decision.indicators == {"close": 4.0, "fast_sma": 4.5, "slow_sma": pytest.approx(13 / 3)}
    warming = indicator("sma_cross").decide_last(candles_of([1.0, 2.0]), SmaCrossParams(fast=2, slow=3))
    assert warming.position == 0.0
    assert warming.indicators["slow_sma"] is None
    json.dumps(warming.indicators)  # goes to the activity log as is
    with pytest.raises(ValueError, match="no candles"):
        indicator("sma_cross").decide_last(candles_of([]), SmaCrossParams(fast=2, slow=3))


# ------------------------------------------------------------------ no look-ahead, for every indicator strategy

PARAMS: dict[str, st.SearchStrategy[BaseModel]] = {
    "sma_cross": st.integers(2, 5).flatmap(
        lambda fast: st.builds(SmaCrossParams, fast=st.just(fast), slow=st.integers(fast + 1, 10))
    ),
    "ema_cross": st.integers(2, 5).flatmap(
        lambda fast: st.builds(EmaCrossParams, fast=st.just(fast), slow=st.integers(fast + 1, 10))
    ),
    "macd_cross": st.integers(2, 4).flatmap(
        lambda fast: st.builds(
            MacdCrossParams, fast=st.just(fast), slow=st.integers(fast + 1, 8), signal=st.integers(1, 5)
        )
    ),
    "rsi_reversion": st.builds(
        RsiReversionParams, period=st.integers(2, 6), oversold=st.floats(10, 45), overbought=st.floats(55, 90)
    ),
    "bollinger_reversion": st.builds(BollingerReversionParams, period=st.integers(2, 8), std_dev=st.floats(0.5, 3.0)),
}


def test_every_indicator_strategy_has_a_property_case() -> None:
    names = {name for name, strategy in STRATEGIES.items() if isinstance(strategy, IndicatorStrategy)}
    assert names == set(PARAMS)


prices = st.floats(min_value=1.0, max_value=1000.0)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(PARAMS)), data=st.data())
def test_a_later_candle_never_changes_an_earlier_decision(name: str, data: st.DataObject) -> None:
    params = data.draw(PARAMS[name], label="params")
    closes = data.draw(st.lists(prices, min_size=1, max_size=60), label="closes")
    cut = data.draw(st.integers(0, len(closes) - 1), label="cut")
    later = data.draw(st.lists(prices, min_size=len(closes) - cut - 1, max_size=len(closes) - cut - 1), label="later")
    bars = candles_of(closes)
    changed = candles_of(closes[: cut + 1] + later)
    spread = data.draw(st.floats(0.0, 0.5), label="spread")  # highs and lows of later bars move too
    changed = Candles(
        changed.timestamp,
        changed.open,
        changed.high * (1 + spread),
        changed.low * (1 - spread),
        changed.close,
        changed.volume,
    )
    strategy = indicator(name)
    before = strategy.target_positions(bars, params)
    after = strategy.target_positions(changed, params)
    np.testing.assert_array_equal(before[: cut + 1], after[: cut + 1])
    assert set(np.unique(before)) <= {0.0, 1.0}


def random_walk_candles(seed: int, bars: int) -> Candles:
    rng = np.random.default_rng(seed)
    return candles_of((100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, bars)))).tolist())


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sma_cross", SmaCrossParams(fast=10, slow=30)),
        ("ema_cross", EmaCrossParams(fast=12, slow=26)),
        ("macd_cross", MacdCrossParams()),
        ("rsi_reversion", RsiReversionParams()),
        ("bollinger_reversion", BollingerReversionParams()),
    ],
)
def test_a_live_tick_on_its_lookback_window_decides_like_the_whole_history(name: str, params: BaseModel) -> None:
    """What makes a backtest predict the bot: the tick reads only `lookback` bars, the backtest all of them."""
    history = random_walk_candles(11, 3000)
    strategy = indicator(name)
    everything = strategy.evaluate(history, params)
    window = strategy.lookback(params)
    assert window < 1500
    decided = 0
    for end in range(1500, 3001, 25):
        live = strategy.decide_last(history.head(end).tail(window), params)
        if live.carried:  # the live bot keeps what it holds; so does the backtest
            assert everything.positions[end - 1] == everything.positions[end - 2]
        else:
            decided += 1
            assert live.position == everything.positions[end - 1]
        for key, value in live.indicators.items():
            assert value == pytest.approx(float(everything.indicators[key][end - 1]), rel=1e-8, abs=1e-9)
    assert decided >= 5


# ------------------------------------------------------------------ dca

LADDER = DcaParams(
    order_notional=D(100),
    price_deviation_pct=D(2),
    safety_volume_scale=D(2),
    safety_step_scale=D("1.5"),
    max_safety_orders=3,
    max_active_safety_orders=3,
    take_profit_pct=D(1),
)


def bar(close: float) -> Candles:
    return candles_of([close])


def by_leg(step: Step[Any]) -> dict[str, WantedOrder]:
    legs = {order.leg: order for order in step.orders}
    assert len(legs) == len(step.orders)
    return legs


def test_dca_starts_with_a_market_base_order_wanted_until_it_fills() -> None:
    first = dca.step(LADDER, None, bar(100.0))
    assert first.orders == (WantedOrder("dca:c1:base", "buy", "market", D(1), None, "base order of a new cycle"),)
    # Seen again on the next bar (not filled yet): the same leg, so the worker places nothing new.
    again = dca.step(LADDER, first.state, bar(125.0))
    assert [order.leg for order in again.orders] == ["dca:c1:base"]


def test_dca_safety_ladder_and_take_profit_after_the_base_fills() -> None:
    base = dca.step(LADDER, None, bar(100.0))
    after = dca.step(LADDER, base.state, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100), closes_order=True),))
    legs = by_leg(after)
    assert set(legs) == {"dca:c1:tp1", "dca:c1:so1", "dca:c1:so2", "dca:c1:so3"}
    assert (legs["dca:c1:tp1"].side, legs["dca:c1:tp1"].type) == ("sell", "limit")
    assert (legs["dca:c1:tp1"].amount, legs["dca:c1:tp1"].price) == (D(1), D(101))
    # Deviations 2, 2 + 2*1.5 = 5 and 5 + 2*1.5^2 = 9.5 percent; notionals 100, 200, 400.
    assert [legs[f"dca:c1:so{n}"].price for n in (1, 2, 3)] == [D(98), D(95), D("90.5")]
    assert legs["dca:c1:so1"].amount == D("1.02040816326")  # 100 / 98, rounded down to 12 digits
    assert legs["dca:c1:so2"].amount == D("2.10526315789")  # 200 / 95
    assert legs["dca:c1:so3"].amount == D("4.41988950276")  # 400 / 90.5
    assert all(legs[f"dca:c1:so{n}"].type == "limit" and legs[f"dca:c1:so{n}"].side == "buy" for n in (1, 2, 3))
    assert after.indicators["take_profit_price"] == "101"
    assert after.indicators["next_safety_price"] == "98"


def test_dca_safety_fill_moves_the_take_profit_to_the_new_average() -> None:
    state = dca.step(LADDER, None, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100), closes_order=True),)).state
    step = dca.step(LADDER, state, bar(98.0), (Fill("dca:c1:so1", "buy", D("1.25"), D(96), closes_order=True),))
    legs = by_leg(step)
    assert set(legs) == {"dca:c1:tp2", "dca:c1:so2", "dca:c1:so3"}  # tp1 is no longer wanted: cancelled
    average = (D(100) + D("1.25") * 96) / D("2.25")
    assert legs["dca:c1:tp2"].amount == D("2.25")
    assert average * D("1.01") == D("98.75555555555555555555555556")
    assert legs["dca:c1:tp2"].price == D("98.7555555556")  # 12 significant digits
    # The ladder hangs from the base price, not from the average.
    assert legs["dca:c1:so2"].price == D(95)


def test_dca_rests_only_the_active_safety_orders_and_stops_at_the_maximum() -> None:
    params = LADDER.model_copy(update={"max_active_safety_orders": 1, "max_safety_orders": 2})
    state = dca.step(params, None, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100), closes_order=True),)).state
    assert set(by_leg(dca.step(params, state, bar(100.0)))) == {"dca:c1:tp1", "dca:c1:so1"}
    state = dca.step(params, state, bar(98.0), (Fill("dca:c1:so1", "buy", D(1), D(98), closes_order=True),)).state
    assert set(by_leg(dca.step(params, state, bar(98.0)))) == {"dca:c1:tp2", "dca:c1:so2"}
    state = dca.step(params, state, bar(95.0), (Fill("dca:c1:so2", "buy", D(2), D(95), closes_order=True),)).state
    assert set(by_leg(dca.step(params, state, bar(95.0)))) == {"dca:c1:tp3"}  # the ladder is used up


def test_dca_take_profit_ends_the_cycle_and_starts_the_next() -> None:
    state = dca.step(LADDER, None, bar(100.0), (Fill("dca:c1:base", "buy", D(2), D(100), closes_order=True),)).state
    # A partial take profit keeps the same leg, for what is left.
    partial = dca.step(LADDER, state, bar(101.0), (Fill("dca:c1:tp1", "sell", D("0.5"), D(101)),))
    assert by_leg(partial)["dca:c1:tp1"].amount == D("1.5")
    done = dca.step(
        LADDER, partial.state, bar(102.0), (Fill("dca:c1:tp1", "sell", D("1.5"), D(101), closes_order=True),)
    )
    assert done.state.cycle == 2
    assert done.state.closed_cycles == 1
    assert done.state.realized_pnl == D(2)  # sold 2 at 101, bought at 100
    assert done.state.position == 0
    assert [(order.leg, order.type, order.side) for order in done.orders] == [("dca:c2:base", "market", "buy")]
    assert done.orders[0].amount == D("0.980392156862")  # 100 / 102 at the new close, rounded down


def test_dca_base_price_is_the_average_of_its_partial_fills() -> None:
    step = dca.step(LADDER, None, bar(100.0), (Fill("dca:c1:base", "buy", D("0.5"), D(99)),))
    assert [order.leg for order in step.orders] == ["dca:c1:base"]  # not closed yet: still the base
    step = dca.step(LADDER, step.state, bar(100.0), (Fill("dca:c1:base", "buy", D("0.5"), D(101), closes_order=True),))
    assert step.state.base_price == D(100)
    assert by_leg(step)["dca:c1:so1"].price == D(98)


def test_dca_stop_loss_sells_everything_and_holds_until_it_closes() -> None:
    params = LADDER.model_copy(update={"stop_loss_pct": D(5)})
    state = dca.step(params, None, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100), closes_order=True),)).state
    assert dca.step(params, state, bar(95.5)).orders[0].leg == "dca:c1:tp1"  # above 95: no stop yet
    hit = dca.step(params, state, bar(95.0))
    assert hit.orders == (WantedOrder("dca:c1:sl", "sell", "market", D(1), None, "stop loss below the average entry"),)
    assert hit.state.stopping
    recovered = dca.step(params, hit.state, bar(103.0))
    assert [order.leg for order in recovered.orders] == ["dca:c1:sl"]  # once hit, the stop stays
    closed = dca.step(params, recovered.state, bar(94.0), (Fill("dca:c1:sl", "sell", D(1), D(94), closes_order=True),))
    assert closed.state.cycle == 2
    assert closed.state.realized_pnl == D(-6)
    assert [order.leg for order in closed.orders] == ["dca:c2:base"]


def test_dca_without_safety_orders_wants_only_the_take_profit() -> None:
    params = LADDER.model_copy(update={"max_safety_orders": 0})
    step = dca.step(params, None, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100), closes_order=True),))
    assert [order.leg for order in step.orders] == ["dca:c1:tp1"]
    assert "next_safety_price" not in step.indicators


def test_dca_late_fill_of_an_old_cycle_is_inventory_of_the_current_one() -> None:
    state = dca.step(LADDER, None, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100), closes_order=True),)).state
    state = dca.step(LADDER, state, bar(101.0), (Fill("dca:c1:tp1", "sell", D(1), D(101), closes_order=True),)).state
    late = dca.step(LADDER, state, bar(101.0), (Fill("dca:c1:so1", "buy", D(1), D(98), closes_order=True),))
    assert late.state.cycle == 2
    assert late.state.position == D(1)
    assert late.state.safety_filled == 0  # cycle 1's safety order does not advance cycle 2's ladder
    assert [order.leg for order in late.orders] == ["dca:c2:base"]


def test_dca_state_survives_json_and_refuses_foreign_legs() -> None:
    stepped = STRATEGIES["dca"]
    assert isinstance(stepped, SteppedStrategy)
    step = dca.step(LADDER, None, bar(100.0), (Fill("dca:c1:base", "buy", D("0.3"), D("99.5"), closes_order=True),))
    stored = json.loads(json.dumps(stepped.dump_state(step.state)))
    restored = stepped.load_state(stored)
    assert restored == step.state
    assert dca.step(LADDER, restored, bar(100.0)).orders == dca.step(LADDER, step.state, bar(100.0)).orders
    assert stepped.load_state(None) is None
    with pytest.raises(ValueError, match="not a dca leg"):
        dca.step(LADDER, None, bar(100.0), (Fill("grid:init", "buy", D(1), D(100)),))
    with pytest.raises(ValueError, match="positive amount"):
        Fill("dca:c1:base", "buy", D(0), D(100))


# ------------------------------------------------------------------ grid

GRID = GridParams(lower_price=D(90), upper_price=D(110), levels=5, order_amount=D(1))  # 90 95 100 105 110


def resting(step: Step[Any]) -> dict[str, tuple[str, Decimal | None]]:
    return {order.leg: (order.side, order.price) for order in step.orders}


def test_grid_first_step_buys_below_and_funds_the_sells_above() -> None:
    first = grid.step(GRID, None, bar(101.0))
    assert resting(first) == {
        "grid:init": ("buy", None),
        "grid:L0:buy:n0": ("buy", D(90)),
        "grid:L1:buy:n0": ("buy", D(95)),
        "grid:L2:buy:n0": ("buy", D(100)),
    }
    init = by_leg(first)["grid:init"]
    assert (init.type, init.amount) == ("market", D(1))  # one sell cell (105-110) needs one order amount
    funded = grid.step(GRID, first.state, bar(101.0), (Fill("grid:init", "buy", D(1), D(101), closes_order=True),))
    assert resting(funded)["grid:L4:sell:n0"] == ("sell", D(110))
    assert "grid:init" not in resting(funded)


def test_grid_fill_re_arms_the_opposite_side_one_level_away() -> None:
    state = grid.step(GRID, None, bar(101.0), (Fill("grid:init", "buy", D(1), D(101), closes_order=True),)).state
    bought = grid.step(GRID, state, bar(99.0), (Fill("grid:L2:buy:n0", "buy", D(1), D(100), closes_order=True),))
    legs = resting(bought)
    assert legs["grid:L3:sell:n1"] == ("sell", D(105))
    assert "grid:L2:buy:n0" not in legs
    assert bought.state.round_trips == 0
    sold = grid.step(
        GRID, bought.state, bar(106.0), (Fill("grid:L3:sell:n1", "sell", D(1), D(105), closes_order=True),)
    )
    legs = resting(sold)
    assert legs["grid:L2:buy:n2"] == ("buy", D(100))
    assert "grid:L3:sell:n1" not in legs
    assert sold.state.round_trips == 1
    assert sold.indicators["round_trips"] == 1
    # The cell's first order comes back under a new leg: an intent of the old one cannot block it.
    assert set(legs) == {"grid:L0:buy:n0", "grid:L1:buy:n0", "grid:L2:buy:n2", "grid:L4:sell:n0"}


def test_grid_partial_and_stale_fills_do_not_flip_a_cell() -> None:
    state = grid.step(GRID, None, bar(101.0), (Fill("grid:init", "buy", D(1), D(101), closes_order=True),)).state
    partial = grid.step(GRID, state, bar(100.0), (Fill("grid:L2:buy:n0", "buy", D("0.4"), D(100)),))
    assert partial.state == state
    flipped = grid.step(GRID, state, bar(100.0), (Fill("grid:L2:buy:n0", "buy", D(1), D(100), closes_order=True),))
    again = grid.step(
        GRID, flipped.state, bar(100.0), (Fill("grid:L2:buy:n0", "buy", D(1), D(100), closes_order=True),)
    )
    assert again.state == flipped.state
    with pytest.raises(ValueError, match="not a grid leg"):
        grid.step(GRID, state, bar(100.0), (Fill("dca:c1:base", "buy", D(1), D(100)),))


def test_grid_price_on_a_level_leaves_that_level_empty() -> None:
    first = grid.step(GRID, None, bar(100.0), (Fill("grid:init", "buy", D(2), D(100), closes_order=True),))
    assert {price for _, price in resting(first).values()} == {D(90), D(95), D(105), D(110)}


def test_grid_outside_its_range() -> None:
    below = grid.step(GRID, None, bar(80.0))
    assert by_leg(below)["grid:init"].amount == D(4)
    assert resting(below) == {"grid:init": ("buy", None)}  # every sell waits for its coins
    above = grid.step(GRID, None, bar(120.0))
    assert above.state.inventory_ready
    assert {leg for leg in resting(above)} == {f"grid:L{level}:buy:n0" for level in range(4)}
    assert above.indicators["in_range"] == "no"


def test_grid_geometric_levels_and_state_round_trip() -> None:
    params = GridParams(lower_price=D(100), upper_price=D(400), levels=3, spacing="geometric", order_amount=D(1))
    step = grid.step(params, None, bar(150.0))
    assert resting(step) == {"grid:init": ("buy", None), "grid:L0:buy:n0": ("buy", D(100))}
    funded = grid.step(params, step.state, bar(150.0), (Fill("grid:init", "buy", D(1), D(150), closes_order=True),))
    assert resting(funded)["grid:L2:sell:n0"] == ("sell", D(400))
    stepped = STRATEGIES["grid"]
    assert isinstance(stepped, SteppedStrategy)
    assert stepped.load_state(json.loads(json.dumps(stepped.dump_state(funded.state)))) == funded.state
    with pytest.raises(ValueError, match="another number of levels"):
        grid.step(GRID, funded.state, bar(150.0))


# ------------------------------------------------------------------ registry


def test_registry_covers_every_strategy_type_with_its_params_model() -> None:
    assert tuple(STRATEGIES) == STRATEGY_TYPES
    union = typing.get_args(typing.get_args(StrategyConfig)[0])
    models = {
        typing.get_args(member.model_fields["type"].annotation)[0]: member.model_fields["params"].annotation
        for member in union
    }
    for name, strategy in STRATEGIES.items():
        assert strategy.name == name
        assert strategy.params_model is models[name]
    assert isinstance(STRATEGIES["signal"], ExternalStrategy)


def test_stepped_strategies_read_one_bar() -> None:
    for name in ("dca", "grid"):
        stepped = STRATEGIES[name]
        assert isinstance(stepped, SteppedStrategy)
    assert dca.lookback(LADDER) == 1
    assert grid.lookback(GRID) == 1
