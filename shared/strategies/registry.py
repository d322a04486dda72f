"""Every strategy type in one place: its parameter model and its implementation.

Three kinds: indicator strategies (candles in, wanted position out), stepped strategies (state and
fills in, wanted orders out) and external ones (`signal`: the position comes from outside, so there
is nothing to evaluate). `STRATEGY_TYPES` in `params` lists the same names; a test keeps them equal.
Importing this module imports numpy: API functions import only `params`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.strategies import dca, grid, reversion, trend
from shared.strategies.candles import Candles, FloatArray
from shared.strategies.evaluation import Decision, Evaluation
from shared.strategies.indicator_params import (
    BollingerReversionParams,
    EmaCrossParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from shared.strategies.order_plan import Fill, Step
from shared.strategies.signal_params import SignalParams
from shared.strategies.stepped_params import DcaParams, GridParams

ParamsT = TypeVar("ParamsT", bound=BaseModel)
StateT = TypeVar("StateT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class IndicatorStrategy[ParamsT: BaseModel]:
    name: str
    params_model: type[ParamsT]
    evaluate: Callable[[Candles, ParamsT], Evaluation]
    lookback: Callable[[ParamsT], int]  # bars a live tick reads

    def target_positions(self, candles: Candles, params: ParamsT) -> FloatArray:
        """Wanted position fraction at the close of every bar (0 during the warm-up)."""
        return self.evaluate(candles, params).positions

    def decide_last(self, candles: Candles, params: ParamsT) -> Decision:
        """The decision at the last bar, with the indicator values behind it."""
        return self.evaluate(candles, params).decision(candles)


@dataclass(frozen=True, slots=True)
class SteppedStrategy[ParamsT: BaseModel, StateT: BaseModel]:
    name: str
    params_model: type[ParamsT]
    state_model: type[StateT]
    step: Callable[[ParamsT, StateT | None, Candles, tuple[Fill, ...]], Step[StateT]]
    lookback: Callable[[ParamsT], int]

    def load_state(self, stored: Mapping[str, Any] | None) -> StateT | None:
        """A state from its stored JSON form (None: the bot has not stepped yet)."""
        return None if stored is None else self.state_model.model_validate(stored)

    @staticmethod
    def dump_state(state: BaseModel) -> dict[str, Any]:
        return state.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class ExternalStrategy[ParamsT: BaseModel]:
    name: str
    params_model: type[ParamsT]


Strategy = IndicatorStrategy[Any] | SteppedStrategy[Any, Any] | ExternalStrategy[Any]

STRATEGIES: Mapping[str, Strategy] = {
    "sma_cross": IndicatorStrategy("sma_cross", SmaCrossParams, trend.sma_cross, trend.sma_cross_lookback),
    "ema_cross": IndicatorStrategy("ema_cross", EmaCrossParams, trend.ema_cross, trend.ema_cross_lookback),
    "rsi_reversion": IndicatorStrategy(
        "rsi_reversion", RsiReversionParams, reversion.rsi_reversion, reversion.rsi_reversion_lookback
    ),
    "macd_cross": IndicatorStrategy("macd_cross", MacdCrossParams, trend.macd_cross, trend.macd_cross_lookback),
    "bollinger_reversion": IndicatorStrategy(
        "bollinger_reversion",
        BollingerReversionParams,
        reversion.bollinger_reversion,
        reversion.bollinger_reversion_lookback,
    ),
    "dca": SteppedStrategy("dca", DcaParams, dca.DcaState, dca.step, dca.lookback),
    "grid": SteppedStrategy("grid", GridParams, grid.GridState, grid.step, grid.lookback),
    "signal": ExternalStrategy("signal", SignalParams),
}
