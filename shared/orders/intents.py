"""Order intents: the one way any producer (the API, the reconciler's stop-loss/take-profit
exits, bots, signals) asks for an order, and the one way to ask for its cancellation.

An intent is written as the order row (PENDING_SUBMIT) before anything is sent; its id is derived
from (tenant, source, intent), so the same intent, however late it comes again, finds the same
order and never a second one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json

from shared.clock import isoformat, utc_now
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.exchange.client_ids import client_order_id_for, intent_digest, order_id_for
from shared.money import decimal_text
from shared.observability import logger
from shared.orders import changes
from shared.orders.models import OrderRecord, get_order
from shared.orders.schemas import OrderCreate
from shared.orders.states import ON_EXCHANGE, TERMINAL, OrderStatus
from shared.orders.tasks import TradeTask, enqueue


def order_not_found(order_id: str) -> NotFound:
    return NotFound("no such order", details={"id": order_id})


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
        request = OrderCreate.model_validate(
            {
                "exchange_account_id": order.account_id,
                "symbol": order.symbol,
                "side": order.side,
                "type": order.type,
                "amount": order.amount,
                "price": order.price,
                "stop_loss": order.stop_loss,
                "take_profit": order.take_profit,
            }
        )
    except ValueError:
        return None
    return request_digest(request)


def create_intent(
    *,
    tenant_id: str,
    source: str,
    intent_id: str,
    bot_id: str | None,
    account_id: str,
    exchange_id: str,
    request: OrderCreate,
    unless_kill_switch: bool = False,
) -> OrderRecord:
    """Write the intent row (PENDING_SUBMIT) and queue its task; the same intent, however late,
    returns the existing order instead of a second one. `unless_kill_switch`: a new intent is
    written only while the tenant's kill switch is released (checked in its transaction; a
    StaleOrder otherwise)."""
    digest = intent_digest(tenant_id, source, intent_id)
    order_id = order_id_for(digest)
    now = utc_now()
    order = OrderRecord(
        tenant_id=tenant_id,
        order_id=order_id,
        created_key=f"{isoformat(now)}#{order_id}",
        source=source,
        intent_id=intent_id,
        bot_id=bot_id,
        account_id=account_id,
        exchange=exchange_id,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        amount=decimal_text(request.amount),
        price=None if request.price is None else decimal_text(request.price),
        stop_loss=None if request.stop_loss is None else decimal_text(request.stop_loss),
        take_profit=None if request.take_profit is None else decimal_text(request.take_profit),
        client_order_id=client_order_id_for(exchange_id, digest),
        created_at=now,
        updated_at=now,
        status=OrderStatus.PENDING_SUBMIT.value,
        queued_at=now,
        request_digest=request_digest(request),
    )
    order.set_status(OrderStatus.PENDING_SUBMIT)
    try:
        changes.commit(
            order, [changes.order_event("order.created", order)], new=True, unless_kill_switch=unless_kill_switch
        )
    except changes.StaleOrder:
        # The intent row exists (a retry, however late, or a concurrent twin): that is the order.
        existing = get_order(tenant_id, order_id)
        if existing is None:
            raise
        if existing.account_id != account_id or _recorded_digest(existing) != order.request_digest:
            raise ValidationFailed(
                "this intent was already used for a different order",
                code="idempotency_key_reused",
                details={"order_id": order_id},
            ) from None
        return existing
    try:
        enqueue(TradeTask(kind="submit", tenant_id=tenant_id, order_id=order_id, account_id=account_id))
    except Exception:
        # Tell the reconciler to queue it at its next run (if even this fails, it does so once
        # the order has waited pending_submit_requeue_seconds).
        logger.warning("could not queue a trade task; the reconciler will", extra={"order_id": order_id})
        with contextlib.suppress(Exception):
            order.queued_at = None
            changes.commit(order, [])
    return order


def request_cancel(tenant_id: str, order_id: str) -> OrderRecord:
    """Cancel now if never sent; else flag it and queue a cancel (or let the reconciler, once an
    ambiguous order is resolved)."""
    for _ in range(3):
        order = get_order(tenant_id, order_id)
        if order is None:
            raise order_not_found(order_id)
        if order.state in TERMINAL:
            raise Conflict(
                f"the order is already {order.status}: there is nothing left to cancel",
                code="order_not_cancelable",
                details={"id": order_id, "status": order.status},
            )
        if order.cancel_requested:  # asked before: the same answer again
            return order
        try:
            order.cancel_requested = True
            if order.state is OrderStatus.PENDING_SUBMIT:
                return changes.move(order, OrderStatus.CANCELED, reason="canceled_before_submit")
            changes.commit(order, [])
        except changes.StaleOrder:
            continue
        if order.state in ON_EXCHANGE:
            enqueue(TradeTask(kind="cancel", tenant_id=tenant_id, order_id=order_id, account_id=order.account_id))
        return order
    raise changes.StaleOrder("the order kept changing; retry")
