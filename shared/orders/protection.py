"""Platform-managed stop-loss and take-profit, the same on every exchange: the reconciler asks
this module, for each filled order carrying levels, whether the last price crossed one; if so it
places one exit as an intent derived from the entry order, so however often it runs there is a
single exit order."""

from __future__ import annotations

from shared.errors import AppError
from shared.exchange.connect import open_exchange
from shared.orders import changes
from shared.orders.intents import create_intent
from shared.orders.models import OrderRecord
from shared.orders.schemas import OrderCreate


def watch_protection(order: OrderRecord) -> str:
    """Platform-managed stop-loss / take-profit, the same on every exchange: once the last price
    crosses a level, sell (or buy back) what the order filled, as a new intent derived from this
    order, so however often this runs there is one exit order."""
    try:
        last = open_exchange(order.tenant_id, order.account_id).fetch_ticker(order.symbol).last
    except AppError:  # NotFound included: the account is gone
        return "protection: price unavailable"
    long = order.side == "buy"
    stop, take = order.decimal("stop_loss"), order.decimal("take_profit")
    if stop is not None and (last <= stop if long else last >= stop):
        trigger = "stop_loss"
    elif take is not None and (last >= take if long else last <= take):
        trigger = "take_profit"
    else:
        return "protection: watching"
    request = OrderCreate.model_validate(
        {
            "exchange_account_id": order.account_id,
            "symbol": order.symbol,
            "side": "sell" if long else "buy",
            "type": "market",
            "amount": order.filled,
        }
    )
    exit_order = create_intent(
        tenant_id=order.tenant_id,
        source=order.source,
        intent_id=f"{order.order_id}:{trigger}",
        bot_id=order.bot_id,
        account_id=order.account_id,
        exchange_id=order.exchange,
        request=request,
    )
    order.protection = trigger
    order.exit_order_id = exit_order.order_id
    order.set_status(order.state)  # leaves the reconcile index
    changes.commit(order, [])
    return f"protection: {trigger} triggered"
