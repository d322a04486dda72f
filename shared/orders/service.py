"""Order use cases for the API: place (validate, write the intent row, queue), read, list,
cancel; and positions with PnL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.auth.principal import Principal
from shared.clock import isoformat
from shared.errors import Conflict, ExchangeRejected, ValidationFailed
from shared.exchange.connect import open_exchange
from shared.exchange.protocol import Exchange, Market
from shared.idempotency import run_once
from shared.money import decimal_text
from shared.orders.changes import StaleOrder
from shared.orders.intents import create_intent, order_not_found, request_cancel
from shared.orders.models import OrderRecord, get_order, list_orders
from shared.orders.schemas import (
    Fee,
    OrderCreate,
    OrderList,
    OrderOut,
)
from shared.pagination import decode_cursor, encode_cursor
from shared.tenants.models import get_tenant

CURSOR_KIND = "orders"


def _plain(text: str) -> str:
    """Money as a plain decimal string, whatever form a row holds ("6.2E+4" -> "62000")."""
    return decimal_text(Decimal(text))


def _plain_or_none(text: str | None) -> str | None:
    return None if text is None else _plain(text)


def to_out(order: OrderRecord) -> OrderOut:
    return OrderOut(
        id=order.order_id,
        client_order_id=order.client_order_id,
        exchange_order_id=order.exchange_order_id,
        exchange_account_id=order.account_id,
        exchange=order.exchange,
        bot_id=order.bot_id,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        amount=_plain(order.amount),
        price=_plain_or_none(order.price),
        stop_loss=_plain_or_none(order.stop_loss),
        take_profit=_plain_or_none(order.take_profit),
        status=order.status,
        filled=_plain(order.filled),
        average_price=order.average_price_text(),
        cost=_plain(order.cost),
        fee=Fee(cost=_plain(order.fee_cost), currency=order.fee_currency),
        fills=order.fills(),
        reason=order.reason,
        cancel_requested=bool(order.cancel_requested),
        created_at=isoformat(order.created_at),
        updated_at=isoformat(order.updated_at),
    )


def _field_error(field: str, message: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(
        message, details={"fields": [{"field": f"body.{field}", "message": message, "type": "market_rule"}], **details}
    )


def validate_against_market(request: OrderCreate, market: Market, exchange: Exchange) -> None:
    """Precision, minimums and maximums of the market. Too many decimals is an error, never a
    silent truncation: the trader must see the amount that will be sent."""
    if not market.active:
        raise _field_error("symbol", f"{market.symbol} is not trading")
    if market.amount_step and request.amount % market.amount_step:
        raise _field_error(
            "amount", f"amount must be a multiple of {market.amount_step}", amount_step=str(market.amount_step)
        )
    if request.amount < market.min_amount:
        raise _field_error(
            "amount", f"amount is below the minimum of {market.min_amount}", min_amount=str(market.min_amount)
        )
    if market.max_amount is not None and request.amount > market.max_amount:
        raise _field_error("amount", f"amount is above the maximum of {market.max_amount}")
    for name in ("price", "stop_loss", "take_profit"):
        value = getattr(request, name)
        if value is not None and market.price_step and value % market.price_step:
            raise _field_error(
                name, f"{name} must be a multiple of {market.price_step}", price_step=str(market.price_step)
            )
    reference = request.price if request.price is not None else exchange.fetch_ticker(request.symbol).last
    below, above = (
        (request.stop_loss, request.take_profit) if request.side == "buy" else (request.take_profit, request.stop_loss)
    )
    if below is not None and below >= reference:
        name = "stop_loss" if request.side == "buy" else "take_profit"
        raise _field_error(name, f"{name} must be below the {'price' if request.price else 'last price'} ({reference})")
    if above is not None and above <= reference:
        name = "take_profit" if request.side == "buy" else "stop_loss"
        raise _field_error(name, f"{name} must be above the {'price' if request.price else 'last price'} ({reference})")
    if market.min_cost and request.amount * reference < market.min_cost:
        raise _field_error(
            "amount",
            f"order value is below the minimum of {market.min_cost} {market.quote}",
            min_cost=str(market.min_cost),
        )


def place_order(caller: Principal, request: OrderCreate, idempotency_key: str) -> OrderOut:
    """Validate against the market, record the intent, queue it: answers 202 PENDING_SUBMIT."""

    def place() -> dict[str, Any]:
        exchange = open_exchange(caller.tenant_id, request.exchange_account_id)  # 404 if not the tenant's
        try:
            market = exchange.market(request.symbol)
        except ExchangeRejected:
            raise _field_error("symbol", f"unknown symbol {request.symbol} on {exchange.exchange_id}") from None
        validate_against_market(request, market, exchange)
        try:
            # The kill switch is checked in the intent's own transaction: no read before it, and
            # no window between the check and the write for an engaging switch to slip through.
            order = create_intent(
                tenant_id=caller.tenant_id,
                source="manual",
                intent_id=idempotency_key,
                bot_id=None,
                account_id=request.exchange_account_id,
                exchange_id=exchange.exchange_id,
                request=request,
                unless_kill_switch=True,
            )
        except StaleOrder:
            tenant = get_tenant(caller.tenant_id)  # why it failed: only now is the row read
            if tenant is not None and tenant.kill_switch:
                raise Conflict(
                    "the kill switch is engaged: no new orders until it is released", code="kill_switch_engaged"
                ) from None
            raise
        return to_out(order).model_dump(mode="json")

    result = run_once(
        "orders.place",
        tenant_id=caller.tenant_id,
        idempotency_key=idempotency_key,
        payload=request.model_dump(mode="json"),
        action=place,
    )
    return OrderOut.model_validate(result)


def read_order(caller: Principal, order_id: str) -> OrderOut:
    order = get_order(caller.tenant_id, order_id)
    if order is None:
        raise order_not_found(order_id)
    return to_out(order)


def list_tenant_orders(caller: Principal, *, limit: int, cursor: str | None) -> OrderList:
    after = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    rows, more = list_orders(caller.tenant_id, limit=limit, after=after)
    next_cursor = encode_cursor(CURSOR_KIND, rows[-1].created_key) if more and rows else None
    return OrderList(items=[to_out(r) for r in rows], next_cursor=next_cursor)


def cancel_order(caller: Principal, order_id: str) -> OrderOut:
    return to_out(request_cancel(caller.tenant_id, order_id))
