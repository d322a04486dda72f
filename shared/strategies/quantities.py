"""What strategy parameters are made of: timeframes, money amounts and ratios, and the one rounding
rule for the prices strategies compute.

Types only, no model: modules that merely name an amount or a timeframe (a bot's risk limits, the
market data API) import this, never the parameter models of every strategy.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer

from shared.inputs import DecimalText
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
