"""Parameters of the indicator strategies: candles in, a wanted position out (`trend`, `reversion`).

Apart from the union of every strategy (`params`): backtests validate these and the stepped
strategies' parameters by type, and never build the union's models.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from shared.strategies.quantities import Timeframe
from shared.strategies.sizing import SizedParams


class _FastSlow(SizedParams):
    fast: int = Field(ge=2, le=500)
    slow: int = Field(ge=3, le=1000)
    timeframe: Timeframe = "1m"

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError("fast must be smaller than slow")
        return self


class SmaCrossParams(_FastSlow):
    """Long while the fast simple moving average is above the slow one, flat otherwise."""


class EmaCrossParams(_FastSlow):
    """Long while the fast exponential moving average is above the slow one, flat otherwise."""


class RsiReversionParams(SizedParams):
    """Buy when Wilder's RSI drops below `oversold`, sell when it rises above `overbought`, hold in between."""

    period: int = Field(default=14, ge=2, le=500)
    oversold: float = Field(default=30.0, gt=0, lt=100)
    overbought: float = Field(default=70.0, gt=0, lt=100)
    timeframe: Timeframe = "1m"

    @model_validator(mode="after")
    def _oversold_below_overbought(self) -> Self:
        if self.oversold >= self.overbought:
            raise ValueError("oversold must be below overbought")
        return self


class MacdCrossParams(_FastSlow):
    """Long while the MACD line is above its signal line, flat otherwise."""

    fast: int = Field(default=12, ge=2, le=500)
    slow: int = Field(default=26, ge=3, le=1000)
    signal: int = Field(default=9, ge=1, le=500)


class BollingerReversionParams(SizedParams):
    """Buy when the close falls below the lower band, sell when it rises above the middle band."""

    period: int = Field(default=20, ge=2, le=500)
    std_dev: float = Field(default=2.0, gt=0, le=10, description="Band width in population standard deviations.")
    timeframe: Timeframe = "1m"
