"""Order states: which moves are legal, and how exchange reports map onto ours."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shared.exchange.protocol import ExchangeOrder, ExchangeOrderStatus
from shared.orders.states import TERMINAL, OrderStatus, may_move, status_from_exchange


def test_terminal_states_never_move_except_a_late_order_being_adopted() -> None:
    for state in TERMINAL - {OrderStatus.NOT_PLACED}:
        assert not any(may_move(state, target) for target in OrderStatus)
    adoptable = {target for target in OrderStatus if may_move(OrderStatus.NOT_PLACED, target)}
    assert adoptable == {
        OrderStatus.OPEN,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }


def test_nothing_ever_goes_back_to_sending() -> None:
    """An order whose first send may have reached the exchange is never sent again: no state
    after the claim leads back to PENDING_SUBMIT or SUBMITTING, except the claim given back when
    the exchange proved it did nothing (SUBMITTING -> PENDING_SUBMIT on a rate limit)."""
    for state in OrderStatus:
        if state in (OrderStatus.PENDING_SUBMIT, OrderStatus.SUBMITTING):
            continue
        assert not may_move(state, OrderStatus.PENDING_SUBMIT), state
        assert not may_move(state, OrderStatus.SUBMITTING), state


def test_only_the_reconciler_paths_leave_unknown() -> None:
    assert may_move(OrderStatus.UNKNOWN, OrderStatus.NOT_PLACED)
    assert may_move(OrderStatus.UNKNOWN, OrderStatus.FILLED)
    assert not may_move(OrderStatus.UNKNOWN, OrderStatus.SUBMITTING)  # never straight back to sending
    assert not may_move(OrderStatus.PENDING_SUBMIT, OrderStatus.FILLED)  # must be claimed first


def _reported(status: ExchangeOrderStatus, filled: str) -> ExchangeOrder:
    return ExchangeOrder("1", "c", "BTC/USDT", "buy", "limit", D("1"), D("1"), status, D(filled), D(filled))


@pytest.mark.parametrize(
    ("status", "filled", "ours"),
    [
        (ExchangeOrderStatus.OPEN, "0", OrderStatus.OPEN),
        (ExchangeOrderStatus.OPEN, "0.5", OrderStatus.PARTIALLY_FILLED),
        (ExchangeOrderStatus.CLOSED, "1", OrderStatus.FILLED),
        (ExchangeOrderStatus.CANCELED, "0.2", OrderStatus.CANCELED),
        (ExchangeOrderStatus.EXPIRED, "0", OrderStatus.EXPIRED),
        (ExchangeOrderStatus.REJECTED, "0", OrderStatus.REJECTED),
    ],
)
def test_exchange_reports_map_onto_our_states(status: ExchangeOrderStatus, filled: str, ours: OrderStatus) -> None:
    assert status_from_exchange(_reported(status, filled)) is ours
