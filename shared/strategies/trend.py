"""Trend-following indicator strategies: long while a faster line is above a slower one, flat otherwise.

Each is a level, not an event: the position at bar i depends only on which line is higher at the
close of bar i, so a bot that missed a tick still lands in the right position on the next one.
"""

from __future__ import annotations

from shared import indicators
from shared.strategies.candles import Candles
from shared.strategies.evaluation import Evaluation, level_positions
from shared.strategies.indicator_params import EmaCrossParams, MacdCrossParams, SmaCrossParams
from shared.strategies.warmup import ema_settle_bars


def sma_cross(candles: Candles, params: SmaCrossParams) -> Evaluation:
    fast = indicators.sma(candles.close, params.fast)
    slow = indicators.sma(candles.close, params.slow)
    return Evaluation(level_positions(fast > slow), {"close": candles.close, "fast_sma": fast, "slow_sma": slow})


def sma_cross_lookback(params: SmaCrossParams) -> int:
    return params.slow


def ema_cross(candles: Candles, params: EmaCrossParams) -> Evaluation:
    fast = indicators.ema(candles.close, params.fast)
    slow = indicators.ema(candles.close, params.slow)
    return Evaluation(level_positions(fast > slow), {"close": candles.close, "fast_ema": fast, "slow_ema": slow})


def ema_cross_lookback(params: EmaCrossParams) -> int:
    return params.slow + ema_settle_bars(params.slow)


def macd_cross(candles: Candles, params: MacdCrossParams) -> Evaluation:
    lines = indicators.macd(candles.close, params.fast, params.slow, params.signal)
    return Evaluation(
        level_positions(lines.macd > lines.signal),
        {"close": candles.close, "macd": lines.macd, "signal": lines.signal, "hist": lines.hist},
    )


def macd_cross_lookback(params: MacdCrossParams) -> int:
    # The signal line smooths the MACD line, which carries the slow EMA's memory: both settle.
    return params.slow + params.signal + ema_settle_bars(params.slow) + ema_settle_bars(params.signal)
