"""Carrying out an accepted signal (the signal worker): read the bot's working position, plan the
one order that moves it to what the signal wants, and write it as an order intent.

The intent id is the signal id (source `signal:<bot>`), so a redelivered task, a replay or two
workers on the same signal find the same order and never place a second one. The working position
is the ledger's filled position for the bot plus what its open orders will still fill: a signal
that arrives before the previous order filled is not doubled.
"""

from __future__ import annotations

import json
from decimal import Decimal

from shared.bots.activity import record_activity
from shared.bots.lifecycle import BotStatus
from shared.bots.models import BotRecord, get_bot
from shared.clock import utc_now
from shared.errors import AppError, ExchangeTemporary
from shared.events.data.signals import SignalData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.exchange.client_ids import intent_digest, order_id_for
from shared.observability import MetricUnit, logger, metrics
from shared.orders.intents import create_intent
from shared.orders.models import OrderRecord, get_order, open_orders_of_scope
from shared.orders.schemas import OrderCreate
from shared.orders.states import OrderStatus
from shared.positions.ledger import position_quantity
from shared.signals.intake import SOURCE
from shared.signals.models import SignalRecord, get_signal
from shared.signals.targets import OrderPlan, plan_order
from shared.signals.tasks import SignalTask
from shared.strategies.signal_params import SignalParams


def intent_source(bot_id: str) -> str:
    return f"signal:{bot_id}"


def pending_quantity(tenant_id: str, bot_id: str, account_id: str, symbol: str) -> Decimal:
    """Signed amount the bot's open orders on this market will still fill (buys +, sells -)."""
    total = Decimal(0)
    for order in open_orders_of_scope(tenant_id, bot_id):
        if order.account_id != account_id or order.symbol != symbol:
            continue
        remaining = Decimal(order.amount) - Decimal(order.filled)
        total += remaining if order.side == "buy" else -remaining
    return total


def _finish(
    record: SignalRecord,
    bot: BotRecord | None,
    *,
    status: str,
    reason: str | None = None,
    plan: OrderPlan | None = None,
    working: Decimal | None = None,
    order: OrderRecord | None = None,
) -> str:
    record.status, record.reason, record.updated_at = status, reason, utc_now()
    record.order_id = None if order is None else order.order_id
    outcome = {"reason": reason, "position_before": None if working is None else str(working)}
    if plan is not None:
        outcome |= {"target_position": str(plan.wanted), "side": plan.side, "amount": str(plan.amount)}
    record.outcome_json = json.dumps(outcome, sort_keys=True)
    data = SignalData(
        signal_id=record.signal_id,
        bot_id=record.bot_id,
        action=record.fields().get("action"),
        symbol=bot.symbol if bot is not None else "",
        status=status,
        reason=reason,
        order_id=record.order_id,
        side=None if plan is None else plan.side,
        amount=None if plan is None or plan.side is None else str(plan.amount),
        position_before=outcome["position_before"],
        target_position=outcome.get("target_position"),
    )
    event = new_event(f"signal.{status}", tenant_id=record.tenant_id, source=SOURCE, data=data)
    commit_with_events(lambda tx: tx.save(record), [event])  # version-checked
    summary = f"signal {record.fields().get('action') or ''} {status}" + (f": {reason}" if reason else "")
    record_activity(
        record.tenant_id,
        record.bot_id,
        "signal",
        summary.replace("  ", " "),
        data={"signal_id": record.signal_id, **outcome, "order_id": record.order_id},
        entry_id=record.signal_id,
    )
    metrics.add_metric(name=f"Signals{status.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info(
        "signal handled",
        extra={"signal_id": record.signal_id, "status": status, "reason": reason, "order_id": record.order_id},
    )
    return status


def execute_signal(task: SignalTask) -> str:
    """Carry out one accepted signal; a signal already handled is left alone."""
    from shared.exchange.connect import open_exchange  # ccxt only when a signal is executed

    record = get_signal(task.tenant_id, task.bot_id, task.signal_id)
    if record is None or record.status != "accepted":
        return "already_handled"
    bot = get_bot(task.tenant_id, task.bot_id)
    if bot is None or bot.status != BotStatus.RUNNING.value or bot.strategy_type != "signal":
        return _finish(record, bot, status="failed", reason="bot_not_running")
    existing = get_order(
        task.tenant_id, order_id_for(intent_digest(task.tenant_id, intent_source(bot.bot_id), task.signal_id))
    )
    if existing is not None:  # a redelivery after the intent was written: that is the order
        return _finish(record, bot, status="executed", order=existing)
    params = SignalParams.model_validate(json.loads(bot.strategy_json)["params"])
    full_notional = params.position_notional() or Decimal(json.loads(bot.risk_json)["max_position_notional"])
    try:
        exchange = open_exchange(bot.tenant_id, bot.exchange_account_id)
        market = exchange.market(bot.symbol)
        price = exchange.fetch_ticker(bot.symbol).last
    except ExchangeTemporary:
        raise  # retried by the queue
    except AppError as exc:
        return _finish(record, bot, status="failed", reason=exc.error_code)
    held = position_quantity(bot.tenant_id, bot.exchange_account_id, bot.symbol, bot.bot_id)
    pending = pending_quantity(bot.tenant_id, bot.bot_id, bot.exchange_account_id, bot.symbol)
    plan = plan_order(
        record.fields(),
        held=held,
        pending=pending,
        price=price,
        full_notional=full_notional,
        market=market,
        derivatives=":" in bot.symbol,
    )
    working = held + pending
    if plan.side is None:
        if plan.skipped == "at_target":
            return _finish(record, bot, status="executed", reason="at_target", plan=plan, working=working)
        return _finish(record, bot, status="failed", reason=plan.skipped, plan=plan, working=working)
    request = OrderCreate(
        exchange_account_id=bot.exchange_account_id,
        symbol=bot.symbol,
        side=plan.side,
        type="market",
        amount=plan.amount,
    )
    order = create_intent(
        tenant_id=bot.tenant_id,
        source=intent_source(bot.bot_id),
        intent_id=record.signal_id,
        bot_id=bot.bot_id,
        account_id=bot.exchange_account_id,
        exchange_id=exchange.exchange_id,
        request=request,
    )
    if order.state is OrderStatus.REJECTED:
        return _finish(
            record, bot, status="failed", reason=order.reason or "rejected", plan=plan, working=working, order=order
        )
    return _finish(record, bot, status="executed", plan=plan, working=working, order=order)
