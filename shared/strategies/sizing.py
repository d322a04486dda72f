"""How big a bot's full position is, and the base of every strategy's parameter model.

Apart from `params` (the union of every strategy) so that functions validating one strategy's
parameters (signal bots) build only the models they use.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from shared.inputs import RequestModel
from shared.strategies.quantities import DECIMAL_DIGITS, Amount, Ratio


class StrategyParams(RequestModel):
    """Base of every strategy's parameters (and their parts): strict, and immutable once validated."""

    model_config = ConfigDict(frozen=True)


class FixedNotional(StrategyParams):
    """A full position is this much quote currency."""

    mode: Literal["fixed_notional"]
    notional: Amount

    def quote_notional(self) -> Decimal:
        return self.notional


class PercentOfCapital(StrategyParams):
    """A full position is `percent` of the capital allocated to the bot."""

    mode: Literal["percent_of_capital"]
    percent: Ratio = Field(le=100)
    capital: Amount = Field(description="Quote capital allocated to the bot.")

    def quote_notional(self) -> Decimal:
        with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
            return self.capital * self.percent / 100


Sizing = Annotated[FixedNotional | PercentOfCapital, Field(discriminator="mode")]


class SizedParams(StrategyParams):
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
