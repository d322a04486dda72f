"""`data` of the reconciler's drift events."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class DriftData(EventData):
    exchange_account_id: str
    exchange: str
    kind: Literal["unknown_open_order", "order_state_mismatch"]
    exchange_order_id: str | None
    client_order_id: str | None
    symbol: str | None
    detail: str
