"""The trade worker's use case: turn one trade task into at most one exchange order.

Per submit task: load the intent row; run the risk rules; claim it (PENDING_SUBMIT ->
SUBMITTING, conditional); call the exchange once; record the outcome (conditional). A task that
finds its order already SUBMITTING is a redelivery after a crash mid-call: the exchange may hold
the order, so it becomes UNKNOWN for the reconciler, and is never sent again from here.
"""

from __future__ import annotations

import json
from decimal import Decimal

from shared.bots.activity import record_activity
from shared.bots.limits import RiskLimits
from shared.bots.models import get_bot
from shared.clock import utc_now
from shared.config import get_settings
from shared.errors import (
    AppError,
    ExchangeAmbiguous,
    ExchangeOrderNotFound,
    ExchangeRejected,
    ExchangeTemporary,
    NotFound,
    TaskRetry,
)
from shared.events.data.risk import RiskBreachData
from shared.events.envelope import DomainEvent, new_event
from shared.exchange.connect import open_exchange
from shared.exchange.protocol import Exchange, OrderRequest
from shared.observability import MetricUnit, logger, metrics, tracer
from shared.orders import changes
from shared.orders.models import OrderRecord, count_open_orders, get_order
from shared.orders.states import ON_EXCHANGE, OrderStatus
from shared.orders.tasks import TradeTask
from shared.positions.ledger import held_and_realized_today, position_quantity
from shared.risk.rules import Breach, RiskInput, evaluate
from shared.tenants.models import get_tenant


def request_of(order: OrderRecord) -> OrderRequest:
    return OrderRequest(
        symbol=order.symbol,
        side=order.side,  # type: ignore[arg-type]
        type=order.type,  # type: ignore[arg-type]
        amount=Decimal(order.amount),
        client_order_id=order.client_order_id,
        price=order.decimal("price"),
        stop_loss=order.decimal("stop_loss"),
        take_profit=order.decimal("take_profit"),
    )


def _risk_input(order: OrderRecord, exchange: Exchange) -> RiskInput | Breach:
    tenant = get_tenant(order.tenant_id)
    limits: RiskLimits | None = None
    if order.bot_id:
        bot = get_bot(order.tenant_id, order.bot_id)
        if bot is None:
            return Breach("bot_missing", "the bot that placed this order no longer exists")
        limits = RiskLimits.model_validate_json(bot.risk_json)
    scope = order.bot_id or "manual"
    if limits:
        held, realized = held_and_realized_today(order.tenant_id, order.account_id, order.symbol, scope, utc_now())
    else:
        held, realized = position_quantity(order.tenant_id, order.account_id, order.symbol, scope), Decimal(0)
    last = exchange.fetch_ticker(order.symbol).last
    deviation = (
        Decimal(tenant.max_price_deviation_pct)
        if tenant and tenant.max_price_deviation_pct
        else get_settings().default_max_price_deviation_pct
    )
    return RiskInput(
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        amount=Decimal(order.amount),
        price=order.decimal("price"),
        last_price=last,
        kill_switch=bool(tenant and tenant.kill_switch),
        symbol_allowlist=json.loads(tenant.symbol_allowlist) if tenant and tenant.symbol_allowlist else None,
        max_price_deviation_pct=deviation,
        bot_limits=limits,
        position_quantity=held,
        open_orders=count_open_orders(order.tenant_id, order.bot_id, exclude=order.order_id) if limits else 0,
        realized_today=realized,
    )


def _breach_event(order: OrderRecord, breach: Breach) -> DomainEvent:
    return new_event(
        "risk.limit_breached",
        tenant_id=order.tenant_id,
        source=changes.SOURCE,
        data=RiskBreachData(
            order_id=order.order_id,
            bot_id=order.bot_id,
            rule=breach.rule,
            message=breach.message,
            limit=breach.limit,
            observed=breach.observed,
        ),
    )


def _show_on_bot(order: OrderRecord, breach: Breach) -> None:
    """Bots trade by themselves (issue 8): a bot's refused order shows on the bot's activity."""
    if order.bot_id:
        record_activity(
            order.tenant_id,
            order.bot_id,
            "risk_rejection",
            f"order refused: {breach.message}",
            data={"order_id": order.order_id, "rule": breach.rule, "limit": breach.limit, "observed": breach.observed},
        )


@tracer.capture_method(capture_response=False)
def submit(order: OrderRecord) -> str:
    settings = get_settings()
    if order.state is OrderStatus.SUBMITTING:
        changes.move(order, OrderStatus.UNKNOWN, reason="interrupted_during_submit")
        return "interrupted attempt marked UNKNOWN"
    if order.state is not OrderStatus.PENDING_SUBMIT:
        return f"nothing to do ({order.status})"
    if order.cancel_requested:
        changes.move(order, OrderStatus.CANCELED, reason="canceled_before_submit")
        return "canceled before submit"
    try:
        exchange = open_exchange(order.tenant_id, order.account_id)
        risk = _risk_input(order, exchange)
    except NotFound:
        changes.move(order, OrderStatus.REJECTED, reason="exchange_account_not_found")
        return "rejected: no such account"
    except ExchangeRejected as exc:
        changes.move(order, OrderStatus.REJECTED, reason=exc.reason)
        return f"rejected: {exc.reason}"
    except ExchangeTemporary as exc:
        raise TaskRetry("could not read market data for the risk checks") from exc
    breach = risk if isinstance(risk, Breach) else evaluate(risk)
    if breach is not None:
        changes.move(
            order, OrderStatus.REJECTED, reason=f"risk:{breach.rule}", extra_events=[_breach_event(order, breach)]
        )
        metrics.add_metric(name="RiskRejections", unit=MetricUnit.Count, value=1)
        _show_on_bot(order, breach)
        return f"rejected by risk rule {breach.rule}"

    changes.mark_submitting(order, settings.order_submit_deadline_seconds)
    started = utc_now()
    try:
        reported = exchange.create_order(request_of(order))
    except ExchangeTemporary as exc:
        # Refused before doing anything (rate limit, nonce): give the claim back and retry later.
        changes.move(order, OrderStatus.PENDING_SUBMIT)
        raise TaskRetry("exchange refused the request for now") from exc
    except ExchangeRejected as exc:
        changes.move(order, OrderStatus.REJECTED, reason=exc.reason)
        metrics.add_metric(name="ExchangeRejections", unit=MetricUnit.Count, value=1)
        return f"rejected by the exchange: {exc.reason}"
    except ExchangeAmbiguous as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        changes.move(order, OrderStatus.UNKNOWN, reason=f"ambiguous:{details.get('error', 'unknown')}")
        return "outcome unknown; left to the reconciler"
    metrics.add_metric(
        name="OrderSubmitLatency", unit=MetricUnit.Milliseconds, value=(utc_now() - started).total_seconds() * 1000
    )
    try:
        changes.record_exchange_state(order, reported)
    except changes.StaleOrder:
        # A duplicate delivery marked our in-flight claim UNKNOWN meanwhile; we hold the answer.
        fresh = get_order(order.tenant_id, order.order_id)
        if fresh is None or fresh.state not in (OrderStatus.UNKNOWN, OrderStatus.SUBMITTING):
            return "submitted; already recorded by someone else"
        changes.record_exchange_state(fresh, reported)
        return f"submitted ({fresh.status})"
    return f"submitted ({order.status})"


@tracer.capture_method(capture_response=False)
def cancel(order: OrderRecord) -> str:
    if order.state is OrderStatus.PENDING_SUBMIT:
        changes.move(order, OrderStatus.CANCELED, reason="canceled_before_submit")
        return "canceled before submit"
    if order.state not in ON_EXCHANGE:
        return f"cancel deferred or moot ({order.status})"
    exchange = open_exchange(order.tenant_id, order.account_id)
    ids = {"exchange_order_id": order.exchange_order_id, "client_order_id": order.client_order_id}
    try:
        reported = exchange.cancel_order(order.symbol, **ids)
    except ExchangeOrderNotFound:
        reported = exchange.fetch_order(order.symbol, **ids)  # it filled or went away: learn which
    except ExchangeRejected:
        reported = exchange.fetch_order(order.symbol, **ids)
    except ExchangeTemporary as exc:
        raise TaskRetry("exchange unavailable for cancel") from exc
    changes.record_exchange_state(order, reported)
    return f"cancel recorded ({order.status})"


def execute(task: TradeTask) -> str:
    """Run one task; StaleOrder (someone else moved first) is retried once on fresh state."""
    for _ in range(2):
        order = get_order(task.tenant_id, task.order_id)
        if order is None:
            logger.warning("trade task for a missing order", extra={"order_id": task.order_id})
            return "missing order"
        try:
            outcome = submit(order) if task.kind == "submit" else cancel(order)
        except changes.StaleOrder:
            continue
        except AppError:
            raise
        logger.info("trade task done", extra={"order_id": order.order_id, "kind": task.kind, "outcome": outcome})
        return outcome
    raise TaskRetry("order kept changing underneath")
