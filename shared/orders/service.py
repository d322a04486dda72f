"""Order use cases for the API: place (validate, write the intent row, queue), read, list,
cancel; and positions with PnL."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from shared.auth.principal import Principal
from shared.clock import isoformat, utc_now
from shared.errors import Conflict, ExchangeRejected, NotFound, ValidationFailed
from shared.exchange.client_ids import client_order_id_for, intent_digest, order_id_for
from shared.exchange.connect import open_exchange
from shared.exchange.model import Exchange, Market
from shared.idempotency import run_once
from shared.money import decimal_text
from shared.observability import logger
from shared.orders import recording
from shared.orders.models import OrderRecord, get_order, list_orders
from shared.orders.schemas import (
    AccountPnl,
    Fee,
    OrderCreate,
    OrderList,
    OrderOut,
    PositionList,
    PositionOut,
)
from shared.orders.states import ON_EXCHANGE, TERMINAL, OrderStatus
from shared.orders.tasks import TradeTask, enqueue
from shared.pagination import decode_cursor, encode_cursor
from shared.positions.models import list_positions
from shared.tenants.models import get_tenant

CURSOR_KIND = "orders"


def to_out(order: OrderRecord) -> OrderOut:
    return OrderOut(
        id=order.order_id, client_order_id=order.client_order_id, exchange_order_id=order.exchange_order_id,
        exchange_account_id=order.account_id, exchange=order.exchange, bot_id=order.bot_id, symbol=order.symbol,
        side=order.side, type=order.type, amount=order.amount, price=order.price, stop_loss=order.stop_loss,
        take_profit=order.take_profit, status=order.status, filled=order.filled,
        average_price=order.average_price_text(), cost=order.cost,
        fee=Fee(cost=order.fee_cost, currency=order.fee_currency), fills=order.fills(), reason=order.reason,
        cancel_requested=bool(order.cancel_requested), created_at=isoformat(order.created_at),
        updated_at=isoformat(order.updated_at),
    )


def _field_error(field: str, message: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": [{"field": f"body.{field}", "message": message,
                                                          "type": "market_rule"}], **details})


def validate_against_market(request: OrderCreate, market: Market, exchange: Exchange) -> None:
    """Precision, minimums and maximums of the market. Too many decimals is an error, never a
    silent truncation: the trader must see the amount that will be sent."""
    if not market.active:
        raise _field_error("symbol", f"{market.symbol} is not trading")
    if market.amount_step and request.amount % market.amount_step:
        raise _field_error("amount", f"amount must be a multiple of {market.amount_step}",
                           amount_step=str(market.amount_step))
    if request.amount < market.min_amount:
        raise _field_error("amount", f"amount is below the minimum of {market.min_amount}",
                           min_amount=str(market.min_amount))
    if market.max_amount is not None and request.amount > market.max_amount:
        raise _field_error("amount", f"amount is above the maximum of {market.max_amount}")
    for name in ("price", "stop_loss", "take_profit"):
        value = getattr(request, name)
        if value is not None and market.price_step and value % market.price_step:
            raise _field_error(name, f"{name} must be a multiple of {market.price_step}",
                               price_step=str(market.price_step))
    reference = request.price if request.price is not None else exchange.fetch_ticker(request.symbol).last
    below, above = ((request.stop_loss, request.take_profit) if request.side == "buy"
                    else (request.take_profit, request.stop_loss))
    if below is not None and below >= reference:
        name = "stop_loss" if request.side == "buy" else "take_profit"
        raise _field_error(name, f"{name} must be below the {'price' if request.price else 'last price'} "
                                 f"({reference})")
    if above is not None and above <= reference:
        name = "take_profit" if request.side == "buy" else "stop_loss"
        raise _field_error(name, f"{name} must be above the {'price' if request.price else 'last price'} "
                                 f"({reference})")
    if market.min_cost and request.amount * reference < market.min_cost:
        raise _field_error("amount", f"order value is below the minimum of {market.min_cost} {market.quote}",
                           min_cost=str(market.min_cost))


def request_digest(request: OrderCreate) -> str:
    """SHA-256 of the request's canonical form: every field, normalized (decimals as plain text,
    keys sorted), so reusing an intent for a different order is caught whatever field differs,
    including fields added later."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _recorded_digest(order: OrderRecord) -> str | None:
    """The digest of the request an order was created from; rebuilt from its fields for rows
    written before the digest was stored."""
    if order.request_digest:
        return order.request_digest
    try:
        request = OrderCreate.model_validate({
            "exchange_account_id": order.account_id, "symbol": order.symbol, "side": order.side, "type": order.type,
            "amount": order.amount, "price": order.price, "stop_loss": order.stop_loss,
            "take_profit": order.take_profit})
    except ValueError:
        return None
    return request_digest(request)


def create_intent(*, tenant_id: str, source: str, intent_id: str, bot_id: str | None, account_id: str,
                  exchange_id: str, request: OrderCreate) -> OrderRecord:
    """Write the intent row (PENDING_SUBMIT) and queue its task; the same intent, however late,
    returns the existing order instead of a second one."""
    digest = intent_digest(tenant_id, source, intent_id)
    order_id = order_id_for(digest)
    now = utc_now()
    order = OrderRecord(
        tenant_id=tenant_id, order_id=order_id, created_key=f"{isoformat(now)}#{order_id}", source=source,
        intent_id=intent_id, bot_id=bot_id, account_id=account_id, exchange=exchange_id, symbol=request.symbol,
        side=request.side, type=request.type, amount=str(request.amount),
        price=None if request.price is None else str(request.price),
        stop_loss=None if request.stop_loss is None else str(request.stop_loss),
        take_profit=None if request.take_profit is None else str(request.take_profit),
        client_order_id=client_order_id_for(exchange_id, digest), created_at=now, updated_at=now,
        status=OrderStatus.PENDING_SUBMIT.value, queued_at=now, request_digest=request_digest(request),
    )
    order.set_status(OrderStatus.PENDING_SUBMIT)
    try:
        recording.commit(order, [recording.order_event("order.created", order)], new=True)
    except recording.StaleOrder:
        # The intent row exists (a retry, however late, or a concurrent twin): that is the order.
        existing = get_order(tenant_id, order_id)
        if existing is None:
            raise
        if existing.account_id != account_id or _recorded_digest(existing) != order.request_digest:
            raise ValidationFailed("this intent was already used for a different order",
                                   code="idempotency_key_reused", details={"order_id": order_id}) from None
        return existing
    try:
        enqueue(TradeTask(kind="submit", tenant_id=tenant_id, order_id=order_id, account_id=account_id))
    except Exception:
        # Tell the reconciler to queue it at its next run (if even this fails, it does so once
        # the order has waited pending_submit_requeue_seconds).
        logger.warning("could not queue a trade task; the reconciler will", extra={"order_id": order_id})
        with contextlib.suppress(Exception):
            order.queued_at = None
            recording.commit(order, [])
    return order


def place_order(caller: Principal, request: OrderCreate, idempotency_key: str) -> OrderOut:
    """Validate against the market, record the intent, queue it: answers 202 PENDING_SUBMIT."""

    def place() -> dict[str, Any]:
        tenant = get_tenant(caller.tenant_id)
        if tenant is not None and tenant.kill_switch:
            raise Conflict("the kill switch is engaged: no new orders until it is released",
                           code="kill_switch_engaged")
        exchange = open_exchange(caller.tenant_id, request.exchange_account_id)  # 404 if not the tenant's
        try:
            market = exchange.market(request.symbol)
        except ExchangeRejected:
            raise _field_error("symbol", f"unknown symbol {request.symbol} on {exchange.exchange_id}") from None
        validate_against_market(request, market, exchange)
        order = create_intent(tenant_id=caller.tenant_id, source="manual", intent_id=idempotency_key, bot_id=None,
                              account_id=request.exchange_account_id, exchange_id=exchange.exchange_id,
                              request=request)
        return to_out(order).model_dump(mode="json")

    result = run_once("orders.place", tenant_id=caller.tenant_id, idempotency_key=idempotency_key,
                      payload=request.model_dump(mode="json"), action=place)
    return OrderOut.model_validate(result)


def _not_found(order_id: str) -> NotFound:
    return NotFound("no such order", details={"id": order_id})


def read_order(caller: Principal, order_id: str) -> OrderOut:
    order = get_order(caller.tenant_id, order_id)
    if order is None:
        raise _not_found(order_id)
    return to_out(order)


def list_tenant_orders(caller: Principal, *, limit: int, cursor: str | None) -> OrderList:
    after = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    rows, more = list_orders(caller.tenant_id, limit=limit, after=after)
    next_cursor = encode_cursor(CURSOR_KIND, rows[-1].created_key) if more and rows else None
    return OrderList(items=[to_out(r) for r in rows], next_cursor=next_cursor)


def request_cancel(tenant_id: str, order_id: str) -> OrderRecord:
    """Cancel now if never sent; else flag it and queue a cancel (or let the reconciler, once an
    ambiguous order is resolved)."""
    for _ in range(3):
        order = get_order(tenant_id, order_id)
        if order is None:
            raise _not_found(order_id)
        if order.state in TERMINAL or order.cancel_requested:
            return order
        try:
            order.cancel_requested = True
            if order.state is OrderStatus.PENDING_SUBMIT:
                return recording.move(order, OrderStatus.CANCELED, reason="canceled_before_submit")
            recording.commit(order, [])
        except recording.StaleOrder:
            continue
        if order.state in ON_EXCHANGE:
            enqueue(TradeTask(kind="cancel", tenant_id=tenant_id, order_id=order_id, account_id=order.account_id))
        return order
    raise recording.StaleOrder("the order kept changing; retry")


def cancel_order(caller: Principal, order_id: str) -> OrderOut:
    return to_out(request_cancel(caller.tenant_id, order_id))


def positions(caller: Principal) -> PositionList:
    rows = list_positions(caller.tenant_id)
    prices: dict[tuple[str, str], Decimal | None] = {}
    items: list[PositionOut] = []
    by_account: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    by_bot: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        account, symbol = row.account_id or "", row.symbol or ""
        quantity, average = Decimal(row.quantity), Decimal(row.average_entry)
        key = (account, symbol)
        if key not in prices:
            try:
                prices[key] = open_exchange(caller.tenant_id, account).fetch_ticker(symbol).last
            except Exception:  # an unreachable exchange leaves unrealized PnL unknown, not an error
                prices[key] = None
        last = prices[key]
        unrealized = (last - average) * quantity if last is not None else None
        realized = Decimal(row.realized_pnl)
        items.append(PositionOut(
            exchange_account_id=account, symbol=symbol, bot_id=None if row.scope == "manual" else row.scope,
            quantity=decimal_text(quantity), average_entry_price=decimal_text(average),
            last_price=None if last is None else str(last), realized_pnl=decimal_text(realized),
            unrealized_pnl=None if unrealized is None else decimal_text(unrealized), fees=row.fees))
        for bucket in (by_account[account], by_bot[row.scope]):
            bucket[0] += realized
            bucket[1] += unrealized or Decimal(0)
    return PositionList(
        items=items,
        by_account={k: AccountPnl(realized_pnl=decimal_text(v[0]), unrealized_pnl=decimal_text(v[1]))
                    for k, v in by_account.items()},
        by_bot={k: AccountPnl(realized_pnl=decimal_text(v[0]), unrealized_pnl=decimal_text(v[1]))
                for k, v in by_bot.items()},
    )
