"""Parameters of the stateful strategies: state and fills in, wanted orders out (`dca`, `grid`).

Stored bots are validated again by the strategy worker, so every change here must keep old stored
parameters valid (see the migration notes on `DcaParams` and `GridParams`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from shared.money import decimal_text
from shared.strategies.quantities import DECIMAL_DIGITS, Amount, Interval, Price, Ratio, round_price
from shared.strategies.sizing import StrategyParams

MAX_SAFETY_ORDERS = 100
# Safety orders a migrated first-schema bot gets at most: 25% below the base price at the default
# 1% deviation. (Its max_orders counted lifetime buys, often in the hundreds; taken as is, that
# ladder would reach below zero and the stored bot would stop validating.)
MIGRATED_MAX_SAFETY_ORDERS = 25


class DcaParams(StrategyParams):
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


class GridParams(StrategyParams):
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
