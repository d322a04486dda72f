"""Per-strategy parameter schemas, as one discriminated union on `type`.

A bot's strategy is validated here when the bot is created or changed, so a running bot can
never hold parameters its strategy cannot use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from shared.money import decimal_text

Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
Interval = Literal["1m", "5m", "15m", "1h", "4h", "1d", "1w"]

# Money-like values: positive, finite, at most 20 significant digits and 8 decimals; serialized as
# plain decimal strings so they never pass through a float.
_Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=20, decimal_places=8, allow_inf_nan=False),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
]
Amount = _Money
Price = _Money


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class SmaCrossParams(_Params):
    """Buy when the fast simple moving average crosses above the slow one; sell on the way down."""

    fast: int = Field(ge=2, le=500)
    slow: int = Field(ge=3, le=1000)
    timeframe: Timeframe = "1m"
    order_notional: Amount | None = Field(default=None, description="Quote amount per entry.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError("fast must be smaller than slow")
        return self


class DcaParams(_Params):
    """Dollar-cost averaging: buy a fixed quote amount every interval."""

    interval: Interval = "1d"
    order_notional: Amount
    max_orders: int | None = Field(default=None, ge=1, le=100_000)


class GridParams(_Params):
    """Ladder of limit orders between two prices."""

    lower_price: Price
    upper_price: Price
    levels: int = Field(ge=2, le=200)
    order_amount: Amount = Field(description="Base amount per grid order.")

    @model_validator(mode="after")
    def _lower_below_upper(self) -> Self:
        if self.lower_price >= self.upper_price:
            raise ValueError("lower_price must be below upper_price")
        return self


SignalAction = Literal["buy", "sell", "close"]


def _all_signal_actions() -> list[SignalAction]:
    return ["buy", "sell", "close"]


class SignalParams(_Params):
    """Trades on external signals (e.g. TradingView alerts) sent to the signals endpoint."""

    order_notional: Amount | None = None
    allowed_actions: list[SignalAction] = Field(default_factory=_all_signal_actions, min_length=1, max_length=3)
    max_signal_age_seconds: int = Field(default=300, ge=1, le=3600)


class SmaCrossStrategy(_Params):
    type: Literal["sma_cross"]
    params: SmaCrossParams


class DcaStrategy(_Params):
    type: Literal["dca"]
    params: DcaParams


class GridStrategy(_Params):
    type: Literal["grid"]
    params: GridParams


class SignalStrategy(_Params):
    type: Literal["signal"]
    params: SignalParams


StrategyConfig = Annotated[
    SmaCrossStrategy | DcaStrategy | GridStrategy | SignalStrategy,
    Field(discriminator="type"),
]
STRATEGY_TYPES = ("sma_cross", "dca", "grid", "signal")
