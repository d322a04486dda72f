"""`data` of order events, and of the alert raised when an order declared not placed is adopted
(both recorded by shared.orders.changes)."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class OrderData(EventData):
    order_id: str
    client_order_id: str
    bot_id: str | None
    exchange_account_id: str
    exchange: str
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    amount: str
    price: str | None
    status: str
    filled: str
    average_price: str | None
    fee_cost: str
    fee_currency: str | None
    reason: str | None = None


class LateOrderAdoptedData(EventData):
    order_id: str
    client_order_id: str
    exchange_account_id: str
    exchange: str
    symbol: str
    exchange_status: str
    filled: str
    not_placed_at: str | None
    found_at: str
