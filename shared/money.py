"""How amounts and prices are written: exact decimal strings, never floats, never exponents."""

from __future__ import annotations

from decimal import Decimal


def decimal_text(value: Decimal) -> str:
    """`Decimal("5.9E+4")` -> `"59000"`, `Decimal("1E-8")` -> `"0.00000001"`, `2.50` -> `"2.5"`."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text
