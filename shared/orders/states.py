"""Order states and which moves between them are legal.

PENDING_SUBMIT -> SUBMITTING -> OPEN -> PARTIALLY_FILLED -> FILLED, or CANCELED / REJECTED /
EXPIRED; UNKNOWN while the exchange's answer is ambiguous, which only the reconciler resolves
(to a real state, or to NOT_PLACED after the deadline and repeated, time-spaced misses).

NOT_PLACED is terminal for the intent (nothing will send it again), but not a proof: an exchange
that lags can still show the order later. The reconciler keeps looking, and an order that
appears is adopted: NOT_PLACED moves to the state the exchange reports.
"""

from __future__ import annotations

from enum import StrEnum

from shared.exchange.protocol import ExchangeOrder, ExchangeOrderStatus


class OrderStatus(StrEnum):
    PENDING_SUBMIT = "PENDING_SUBMIT"
    SUBMITTING = "SUBMITTING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"
    NOT_PLACED = "NOT_PLACED"


TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.NOT_PLACED}
)
ON_EXCHANGE = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})

ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_SUBMIT: frozenset({OrderStatus.SUBMITTING, OrderStatus.REJECTED, OrderStatus.CANCELED}),
    OrderStatus.SUBMITTING: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.REJECTED,
            OrderStatus.UNKNOWN,
            OrderStatus.PENDING_SUBMIT,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.REJECTED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
    ),
    OrderStatus.UNKNOWN: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.REJECTED,
            OrderStatus.NOT_PLACED,
        }
    ),
    # Adoption: a late order found on the exchange after we declared it not placed.
    OrderStatus.NOT_PLACED: frozenset(
        {OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
    ),
}


def may_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED.get(current, frozenset())


def status_from_exchange(order: ExchangeOrder) -> OrderStatus:
    """Our state for what the exchange reports."""
    if order.status is ExchangeOrderStatus.CLOSED:
        return OrderStatus.FILLED
    if order.status is ExchangeOrderStatus.OPEN:
        return OrderStatus.PARTIALLY_FILLED if order.filled > 0 else OrderStatus.OPEN
    if order.status is ExchangeOrderStatus.CANCELED:
        return OrderStatus.CANCELED
    if order.status is ExchangeOrderStatus.EXPIRED:
        return OrderStatus.EXPIRED
    return OrderStatus.REJECTED


EVENT_FOR_STATUS: dict[OrderStatus, str] = {
    OrderStatus.OPEN: "order.submitted",
    OrderStatus.PARTIALLY_FILLED: "order.partially_filled",
    OrderStatus.FILLED: "order.filled",
    OrderStatus.CANCELED: "order.canceled",
    OrderStatus.REJECTED: "order.rejected",
    OrderStatus.EXPIRED: "order.expired",
    OrderStatus.UNKNOWN: "order.unknown",
    OrderStatus.NOT_PLACED: "order.not_placed",
}
