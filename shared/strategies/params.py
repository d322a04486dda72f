"""Per-strategy parameter schemas, as one discriminated union on `type`.

A bot's strategy is validated here when the bot is created or changed, so a running bot can
never hold parameters its strategy cannot use. Stored bots are validated again by the strategy
worker, so every schema change here must keep old stored parameters valid (see the migration
notes on `DcaParams` and `GridParams`).

This module is imported by API functions at cold start: it must not import numpy.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, PlainSerializer, model_validator

from shared.inputs import DecimalText, RequestModel
from shared.money import decimal_text

Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
Interval = Literal["1m", "5m", "15m", "1h", "4h", "1d", "1w"]

# Money-like values: positive, finite, at most 20 significant digits and 8 decimals; serialized as
# plain decimal strings so they never pass through a float.
_Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=20, decimal_places=8, allow_inf_nan=False),
    DecimalText(20, 8),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
]
Amount = _Money
Price = _Money
# Percentages and scale factors that feed exact price arithmetic (dca, sizing): decimals, like money.
Ratio = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=6, allow_inf_nan=False),
    DecimalText(12, 6),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
]

# Prices the strategies compute (grid levels, safety orders) keep this many significant digits;
# the strategy worker rounds them further to the market's tick.
PRICE_DIGITS = 12
# Working precision of every strategy's decimal arithmetic, set explicitly so results never depend
# on a caller's decimal context.
DECIMAL_DIGITS = 28


def round_price(value: Decimal) -> Decimal:
    """`value` to PRICE_DIGITS significant digits, half-even: one rounding rule for every computed price."""
    with localcontext(prec=PRICE_DIGITS, rounding=ROUND_HALF_EVEN):
        return +value


class _Params(RequestModel):
    model_config = ConfigDict(frozen=True)


# ------------------------------------------------------------------ sizing


class FixedNotional(_Params):
    """A full position is this much quote currency."""

    mode: Literal["fixed_notional"]
    notional: Amount

    def quote_notional(self) -> Decimal:
        return self.notional


class PercentOfCapital(_Params):
    """A full position is `percent` of the capital allocated to the bot."""

    mode: Literal["percent_of_capital"]
    percent: Ratio = Field(le=100)
    capital: Amount = Field(description="Quote capital allocated to the bot.")

    def quote_notional(self) -> Decimal:
        with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
            return self.capital * self.percent / 100


Sizing = Annotated[FixedNotional | PercentOfCapital, Field(discriminator="mode")]


class _SizedParams(_Params):
    """How big a full position is: `sizing`, or the older `order_notional` (a fixed quote notional).

    `sizing` is left out of the stored JSON when unset, so bots stored before it existed read back
    unchanged. With neither given, the strategy worker sizes from the bot's risk limits.
    """

    order_notional: Amount | None = Field(default=None, description="Quote amount per entry.")
    sizing: Sizing | None = Field(default=None, exclude_if=lambda value: value is None)

    @model_validator(mode="after")
    def _one_sizing(self) -> Self:
        if self.order_notional is not None and self.sizing is not None:
            raise ValueError("give either sizing or order_notional, not both")
        return self

    def position_notional(self) -> Decimal | None:
        """Quote value of a full (1.0) position, or None when the bot has no sizing of its own."""
        if self.sizing is not None:
            return self.sizing.quote_notional()
        return self.order_notional


# ------------------------------------------------------------------ signal strategies (candles in, position out)


class _FastSlow(_SizedParams):
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


class RsiReversionParams(_SizedParams):
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


class BollingerReversionParams(_SizedParams):
    """Buy when the close falls below the lower band, sell when it rises above the middle band."""

    period: int = Field(default=20, ge=2, le=500)
    std_dev: float = Field(default=2.0, gt=0, le=10, description="Band width in population standard deviations.")
    timeframe: Timeframe = "1m"


# ------------------------------------------------------------------ stateful strategies (orders in, orders out)

MAX_SAFETY_ORDERS = 100
# Safety orders a migrated first-schema bot gets at most: 25% below the base price at the default
# 1% deviation. (Its max_orders counted lifetime buys, often in the hundreds; taken as is, that
# ladder would reach below zero and the stored bot would stop validating.)
MIGRATED_MAX_SAFETY_ORDERS = 25


class DcaParams(_Params):
    """3Commas-style DCA: a market base order, limit safety orders further and further below it, and
    a limit take profit on the average entry price. A new cycle starts after each take profit (or stop loss).

    Safety order n (1-based) rests `price_deviation_pct * (1 + s + ... + s^(n-1))` percent below the
    base order's fill price, where s = `safety_step_scale`, and spends
    `safety_order_notional * safety_volume_scale^(n-1)` quote.

    Migration from the first schema `{interval, order_notional, max_orders}` (a plain buy-every-interval
    plan that never traded): `interval` and `order_notional` keep their names and now mean the price
    check cadence and the base order; `max_orders` (orders in total) becomes
    `max_safety_orders = max_orders - 1` (capped at 25; null takes the default). Every new field has a
    default, so stored bots validate unchanged.
    """

    interval: Interval = Field(default="1d", description="How often the bot checks the price (its candle timeframe).")
    order_notional: Amount = Field(description="Base order, in quote currency.")
    safety_order_notional: Amount | None = Field(default=None, description="First safety order; default: the base.")
    price_deviation_pct: Ratio = Field(default=Decimal(1), le=50)
    safety_volume_scale: Ratio = Field(default=Decimal(1), ge=Decimal("0.1"), le=10)
    safety_step_scale: Ratio = Field(default=Decimal(1), ge=Decimal("0.1"), le=10)
    max_safety_orders: int = Field(default=5, ge=0, le=MAX_SAFETY_ORDERS)
    max_active_safety_orders: int = Field(
        default=1, ge=1, le=MAX_SAFETY_ORDERS, description="Safety orders resting on the book at once."
    )
    take_profit_pct: Ratio = Field(default=Decimal(1), le=1000, description="Above the average entry price.")
    stop_loss_pct: Ratio | None = Field(default=None, lt=100, description="Below the average entry price.")

    @model_validator(mode="before")
    @classmethod
    def _migrate_first_schema(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "max_orders" not in data:
            return data
        if "max_safety_orders" in data:
            raise ValueError("max_orders is the old name of max_safety_orders + 1: give only max_safety_orders")
        migrated = {key: value for key, value in data.items() if key != "max_orders"}
        total = data["max_orders"]
        if total is not None:
            if not isinstance(total, int) or isinstance(total, bool) or not 1 <= total <= 100_000:
                raise ValueError("max_orders must be a whole number from 1 to 100000")
            migrated["max_safety_orders"] = min(total - 1, MIGRATED_MAX_SAFETY_ORDERS)
        return migrated

    @model_validator(mode="after")
    def _safety_orders_above_zero(self) -> Self:
        deepest = self.safety_deviation_pct(self.max_safety_orders)
        if deepest >= 100:
            raise ValueError(
                f"the last safety order would be {decimal_text(round_price(deepest))}% below the base price; "
                "lower price_deviation_pct, safety_step_scale or max_safety_orders"
            )
        return self

    def safety_deviation_pct(self, number: int) -> Decimal:
        """How far below the base price safety order `number` (1-based) rests, in percent; 0 for the base."""
        with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
            steps = sum((self.safety_step_scale**k for k in range(number)), Decimal(0))
            return self.price_deviation_pct * steps

    def safety_notional(self, number: int) -> Decimal:
        """Quote spent by safety order `number` (1-based)."""
        first = self.safety_order_notional if self.safety_order_notional is not None else self.order_notional
        with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
            return first * self.safety_volume_scale ** (number - 1)


GridSpacing = Literal["arithmetic", "geometric"]


class GridParams(_Params):
    """Ladder of limit orders between two prices; each fill re-arms the opposite side one level away.

    The first schema `{lower_price, upper_price, levels, order_amount}` is still valid as is: the
    new `spacing` defaults to arithmetic, the only spacing the first schema knew.
    """

    lower_price: Price
    upper_price: Price
    levels: int = Field(ge=2, le=200)
    spacing: GridSpacing = "arithmetic"
    order_amount: Amount = Field(description="Base amount per grid order.")

    @model_validator(mode="after")
    def _lower_below_upper(self) -> Self:
        if self.lower_price >= self.upper_price:
            raise ValueError("lower_price must be below upper_price")
        prices = self.level_prices()
        if any(low >= high for low, high in pairwise(prices)):
            raise ValueError("levels are too close together: use fewer levels or a wider price range")
        return self

    def level_prices(self) -> tuple[Decimal, ...]:
        """The grid's prices, lowest first: equal steps (arithmetic) or equal ratios (geometric)."""
        last = self.levels - 1
        with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
            if self.spacing == "arithmetic":
                step = (self.upper_price - self.lower_price) / last
                inner = [self.lower_price + step * i for i in range(1, last)]
            else:  # one fractional power (slow in Decimal), then integer powers of it
                step = (self.upper_price / self.lower_price) ** (Decimal(1) / last)
                inner = [self.lower_price * step**i for i in range(1, last)]
        return (self.lower_price, *(round_price(price) for price in inner), self.upper_price)


# ------------------------------------------------------------------ external signals

SignalAction = Literal["buy", "sell", "close"]


def _all_signal_actions() -> list[SignalAction]:
    return ["buy", "sell", "close"]


class SignalParams(_SizedParams):
    """Trades on external signals (e.g. TradingView alerts) sent to the signals endpoint."""

    allowed_actions: list[SignalAction] = Field(default_factory=_all_signal_actions, min_length=1, max_length=3)
    max_signal_age_seconds: int = Field(default=300, ge=1, le=3600)


# ------------------------------------------------------------------ the union


class SmaCrossStrategy(_Params):
    type: Literal["sma_cross"]
    params: SmaCrossParams


class EmaCrossStrategy(_Params):
    type: Literal["ema_cross"]
    params: EmaCrossParams


class RsiReversionStrategy(_Params):
    type: Literal["rsi_reversion"]
    params: RsiReversionParams


class MacdCrossStrategy(_Params):
    type: Literal["macd_cross"]
    params: MacdCrossParams


class BollingerReversionStrategy(_Params):
    type: Literal["bollinger_reversion"]
    params: BollingerReversionParams


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
