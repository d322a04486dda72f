"""Mean-reversion indicator strategies: buy a stretched-down market, sell once it has come back.

Each has an entry and an exit condition with a gap between them; inside the gap the bot keeps
whatever position the last condition set (see `held_positions`).
"""

from __future__ import annotations

import numpy as np

from shared import indicators
from shared.strategies.candles import Candles
from shared.strategies.evaluation import Evaluation, held_positions
from shared.strategies.indicator_params import BollingerReversionParams, RsiReversionParams
from shared.strategies.warmup import wilder_settle_bars


def rsi_reversion(candles: Candles, params: RsiReversionParams) -> Evaluation:
    """Enter when RSI < oversold, exit when RSI > overbought, hold in between.

    A window where prices did not move at all has no RSI (TA-Lib would say 0, i.e. "oversold"):
    here it is NaN, which marks neither condition, so a frozen market never triggers a buy.
    """
    value = indicators.rsi(candles.close, params.period, flat=np.nan)
    enter, leave = value < params.oversold, value > params.overbought
    return Evaluation(held_positions(enter, leave), {"close": candles.close, "rsi": value}, enter | leave)


def rsi_reversion_lookback(params: RsiReversionParams) -> int:
    return params.period + 1 + wilder_settle_bars(params.period)


def bollinger_reversion(candles: Candles, params: BollingerReversionParams) -> Evaluation:
    """Enter when the close is below the lower band, exit when it is above the middle band (the SMA).

    Exiting at the middle band, not the upper one, takes the reversion to the mean the entry bet on
    and does not wait for an overshoot that a ranging market often never makes.
    """
    bands = indicators.bollinger(candles.close, params.period, params.std_dev)
    close = candles.close
    enter, leave = close < bands.lower, close > bands.middle
    values = {"close": close, "lower_band": bands.lower, "middle_band": bands.middle, "upper_band": bands.upper}
    return Evaluation(held_positions(enter, leave), values, enter | leave)


def bollinger_reversion_lookback(params: BollingerReversionParams) -> int:
    return params.period
