"""Sample domain events for tests that need an event of a given type, not a particular story."""

from __future__ import annotations

from shared.events.data.bots import BotData
from shared.events.data.orders import OrderData
from shared.events.envelope import DomainEvent, new_event


def order_event(tenant_id: str, event_type: str = "order.filled", order_id: str = "ord_1") -> DomainEvent:
    """An order event (aggregate `order`/`order_id`) with a filled market buy's data."""
    data = OrderData(
        order_id=order_id,
        client_order_id="c1",
        bot_id=None,
        exchange_account_id="paper",
        exchange="paper",
        symbol="BTC/USDT",
        side="buy",
        type="market",
        amount="1",
        price=None,
        status="closed",
        filled="1",
        average_price="100",
        fee_cost="0",
        fee_currency=None,
    )
    return new_event(event_type, tenant_id=tenant_id, source="tests", data=data)


def bot_event(tenant_id: str, event_type: str = "bot.started", bot_id: str = "bot_1") -> DomainEvent:
    """A bot event (aggregate `bot`/`bot_id`) with a running sma_cross bot's data."""
    data = BotData(
        bot_id=bot_id,
        name="b",
        symbol="BTC/USDT",
        exchange_account_id="paper",
        strategy_type="sma_cross",
        status="running",
    )
    return new_event(event_type, tenant_id=tenant_id, source="tests", data=data)
