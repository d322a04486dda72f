"""`data` of signal events (TradingView / 3Commas alerts)."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class SignalData(EventData):
    signal_id: str
    bot_id: str
    action: str | None
    symbol: str
    status: Literal["refused", "executed", "failed"]
    reason: str | None = None
    order_id: str | None = None
    side: Literal["buy", "sell"] | None = None
    amount: str | None = None
    position_before: str | None = None
    target_position: str | None = None
