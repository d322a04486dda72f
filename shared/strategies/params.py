"""Per-strategy parameter schemas, as one discriminated union on `type`.

A bot's strategy is validated here when the bot is created or changed, so a running bot can
never hold parameters its strategy cannot use. Stored bots are validated again by the strategy
worker, so every schema change here must keep old stored parameters valid (see the migration
notes on `DcaParams` and `GridParams`).

This module is imported by API functions at cold start: it must not import numpy. Only functions
that validate any strategy's parameters import it (the bots API, the strategy worker). Each kind
of strategy has its parameters in a module of its own (`indicator_params`, `stepped_params`,
`signal_params`, built on `sizing` and `quantities`), so a function that validates one kind (signal
bots, backtests) builds only those models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.strategies.indicator_params import (
    BollingerReversionParams,
    EmaCrossParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from shared.strategies.signal_params import SignalParams
from shared.strategies.sizing import StrategyParams
from shared.strategies.stepped_params import DcaParams, GridParams

# ------------------------------------------------------------------ the union


class SmaCrossStrategy(StrategyParams):
    type: Literal["sma_cross"]
    params: SmaCrossParams


class EmaCrossStrategy(StrategyParams):
    type: Literal["ema_cross"]
    params: EmaCrossParams


class RsiReversionStrategy(StrategyParams):
    type: Literal["rsi_reversion"]
    params: RsiReversionParams


class MacdCrossStrategy(StrategyParams):
    type: Literal["macd_cross"]
    params: MacdCrossParams


class BollingerReversionStrategy(StrategyParams):
    type: Literal["bollinger_reversion"]
    params: BollingerReversionParams


class DcaStrategy(StrategyParams):
    type: Literal["dca"]
    params: DcaParams


class GridStrategy(StrategyParams):
    type: Literal["grid"]
    params: GridParams


class SignalStrategy(StrategyParams):
    type: Literal["signal"]
    params: SignalParams


StrategyConfig = Annotated[
    SmaCrossStrategy
    | EmaCrossStrategy
    | RsiReversionStrategy
    | MacdCrossStrategy
    | BollingerReversionStrategy
    | DcaStrategy
    | GridStrategy
    | SignalStrategy,
    Field(discriminator="type"),
]
STRATEGY_TYPES = (
    "sma_cross",
    "ema_cross",
    "rsi_reversion",
    "macd_cross",
    "bollinger_reversion",
    "dca",
    "grid",
    "signal",
)
