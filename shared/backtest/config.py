"""What the user chooses for one backtest run: cash, costs, sizing and exits.

Rates are fractions (`fee_rate=0.001` is 0.1 %); fields ending in `_pct` are percentages
(`stop_loss_pct=2` is 2 %), as users type them. Validated on construction so the engine never
sees a fee of 100 % or a stop below zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from shared.errors import ValidationFailed

Sizing = Literal["all_in", "fixed_notional", "percent_of_equity"]
SIZINGS: tuple[Sizing, ...] = ("all_in", "fixed_notional", "percent_of_equity")


def _finite(
    name: str, value: float, *, low: float, high: float, low_open: bool = False, high_closed: bool = False
) -> None:
    above = value > low if low_open else value >= low
    below = value <= high if high_closed else value < high
    if not (math.isfinite(value) and above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{']' if high_closed else ')'}"
        raise ValidationFailed(f"{name} must be finite and in {interval}", details={"field": name})


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """One run's settings.

    sizing: `all_in` spends all cash on each entry; `fixed_notional` spends `fixed_notional`
    quote (capped at the cash there is); `percent_of_equity` spends `equity_pct` % of the cash
    (equity equals cash whenever an entry is made: one position at a time). In every case the
    amount spent includes the entry fee: `qty = budget / (price * (1 + fee_rate))`.
    """

    starting_cash: float
    fee_rate: float = 0.0
    slippage_rate: float = 0.0
    sizing: Sizing = "all_in"
    fixed_notional: float | None = None
    equity_pct: float | None = None
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None

    def __post_init__(self) -> None:
        _finite("starting_cash", self.starting_cash, low=0.0, high=1e18, low_open=True)
        _finite("fee_rate", self.fee_rate, low=0.0, high=0.5)
        _finite("slippage_rate", self.slippage_rate, low=0.0, high=0.5)
        if self.sizing not in SIZINGS:
            raise ValidationFailed(f"sizing must be one of {', '.join(SIZINGS)}", details={"field": "sizing"})
        if (self.sizing == "fixed_notional") != (self.fixed_notional is not None):
            raise ValidationFailed("fixed_notional is required with, and only with, sizing=fixed_notional")
        if (self.sizing == "percent_of_equity") != (self.equity_pct is not None):
            raise ValidationFailed("equity_pct is required with, and only with, sizing=percent_of_equity")
        if self.fixed_notional is not None:
            _finite("fixed_notional", self.fixed_notional, low=0.0, high=1e18, low_open=True)
        if self.equity_pct is not None:
            _finite("equity_pct", self.equity_pct, low=0.0, high=100.0, low_open=True, high_closed=True)
        if self.stop_loss_pct is not None:
            _finite("stop_loss_pct", self.stop_loss_pct, low=0.0, high=100.0, low_open=True)
        if self.take_profit_pct is not None:
            _finite("take_profit_pct", self.take_profit_pct, low=0.0, high=1e6, low_open=True)

    @property
    def stop_factor(self) -> float | None:
        """Stop level = entry fill price x this (the engine and the reference use the same float)."""
        return None if self.stop_loss_pct is None else 1.0 - self.stop_loss_pct / 100.0

    @property
    def target_factor(self) -> float | None:
        """Take-profit level = entry fill price x this."""
        return None if self.take_profit_pct is None else 1.0 + self.take_profit_pct / 100.0
