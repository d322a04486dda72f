"""Parameters of signal bots, which trade on external signals (e.g. TradingView alerts).

Apart from `params` because the signal functions validate these alone, on every signal: they
build these few models, not those of every strategy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.strategies.sizing import SizedParams

SignalAction = Literal["buy", "sell", "close"]


def _all_signal_actions() -> list[SignalAction]:
    return ["buy", "sell", "close"]


class SignalParams(SizedParams):
    """Trades on external signals (e.g. TradingView alerts) sent to the signals endpoint."""

    allowed_actions: list[SignalAction] = Field(default_factory=_all_signal_actions, min_length=1, max_length=3)
    max_signal_age_seconds: int = Field(default=300, ge=1, le=3600)
