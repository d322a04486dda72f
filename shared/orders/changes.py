"""Every change to an order row goes through here: one version-checked transaction holding the
order, the position rows its new fills move, and the domain events it causes.

The version check is what makes each step happen once: two workers (or a worker and the
reconciler) that read the same version cannot both commit, and a fill is applied in the same
transaction that raises `filled`, so it can never be counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.clock import isoformat, utc_now
from shared.errors import Conflict
from shared.events.data.orders import LateOrderAdoptedData, OrderData
from shared.events.envelope import DomainEvent, new_event
from shared.events.models import CounterKey
from shared.events.sequences import counter_of
from shared.events.transactions import commit_with_events
from shared.exchange.protocol import ExchangeOrder
from shared.money import decimal_text
from shared.observability import MetricUnit, logger, metrics
from shared.orders.models import OrderRecord
from shared.orders.states import EVENT_FOR_STATUS, ON_EXCHANGE, OrderStatus, may_move, status_from_exchange
from shared.persistence import condition_failed
from shared.positions.ledger import stage_fill
from shared.tenants.models import stage_kill_switch_released

SOURCE = "cryptoorchestrator.orders"
# States in which the exchange has not (to our knowledge) accepted the order yet.
_NOT_YET_ACCEPTED = frozenset({OrderStatus.SUBMITTING, OrderStatus.UNKNOWN, OrderStatus.NOT_PLACED})
MAX_FILLS_KEPT = 50


class StaleOrder(Conflict):
    """Someone else changed the order first; reload and decide again."""

    code = "concurrent_modification"


def order_event(event_type: str, order: OrderRecord, reason: str | None = None) -> DomainEvent:
    data = OrderData(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        bot_id=order.bot_id,
        exchange_account_id=order.account_id,
        exchange=order.exchange,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        amount=order.amount,
        price=order.price,
        status=order.status,
        filled=order.filled,
        average_price=order.average_price_text(),
        fee_cost=order.fee_cost,
        fee_currency=order.fee_currency,
        reason=reason if reason is not None else order.reason,
    )
    return new_event(event_type, tenant_id=order.tenant_id, source=SOURCE, data=data)


def commit(
    order: OrderRecord,
    events: list[DomainEvent],
    *,
    new: bool = False,
    fill: tuple[Decimal, Decimal, Decimal] | None = None,
    unless_kill_switch: bool = False,
) -> None:
    """Save the order (version-checked, or as new), stage a fill's position rows, record events.

    A change with no events and no fill (the submit claim, a not-found count) is a single
    conditional PutItem: half the write cost of a one-item transaction. `unless_kill_switch`:
    the change commits only while the tenant's kill switch is released, checked in the same
    transaction (a StaleOrder otherwise)."""
    order.updated_at = utc_now()
    if not events and fill is None and not new:
        try:
            order.save()  # version-checked by PynamoDB
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise StaleOrder("the order changed underneath; reload") from exc
            raise
        return

    def stage(tx: TransactWrite) -> None:
        if unless_kill_switch:
            stage_kill_switch_released(tx, order.tenant_id)
        if new:
            tx.save(order, condition=OrderRecord.order_id.does_not_exist())
        else:
            tx.save(order)
        if fill is not None:
            amount, price, fee = fill
            stage_fill(
                tx,
                tenant_id=order.tenant_id,
                account_id=order.account_id,
                symbol=order.symbol,
                scope=order.bot_id or "manual",
                side=order.side,
                amount=amount,
                price=price,
                fee=fee,
                at=order.updated_at,
            )

    counter = counter_of(order.tenant_id, "order", order.order_id)
    known = 0 if new else None if order.event_sequence is None else int(order.event_sequence)

    def carry(last: Mapping[CounterKey, int]) -> None:
        if counter in last:
            order.event_sequence = last[counter]

    try:
        commit_with_events(
            stage, events, known_sequences={counter: known} if known is not None else None, carry_sequences=carry
        )
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise StaleOrder("the order changed underneath; reload") from exc
        raise


def move(
    order: OrderRecord, target: OrderStatus, *, reason: str | None = None, extra_events: list[DomainEvent] | None = None
) -> OrderRecord:
    """A plain state change (no fills), with its event."""
    if not may_move(order.state, target):
        raise StaleOrder(f"cannot move an order from {order.status} to {target.value}")
    order.set_status(target)
    if reason is not None:
        order.reason = reason
    events = list(extra_events or [])
    if target in EVENT_FOR_STATUS:
        events.append(order_event(EVENT_FOR_STATUS[target], order))
    commit(order, events)
    metrics.add_metric(name=f"Orders{target.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    return order


def mark_submitting(order: OrderRecord, deadline_seconds: int) -> OrderRecord:
    """PENDING_SUBMIT -> SUBMITTING, before any exchange call: the claim that makes this worker
    the only one that may send it."""
    now = utc_now()
    order.set_status(OrderStatus.SUBMITTING)
    order.submit_attempts = int(order.submit_attempts or 0) + 1
    order.submit_started_at = now
    order.submit_deadline = now + timedelta(seconds=deadline_seconds)
    _forget_misses(order)
    commit(order, [])
    return order


def _forget_misses(order: OrderRecord) -> None:
    """The exchange has answered for the order: earlier misses were lag, not absence."""
    order.not_found_count = 0
    order.last_miss_at = None


def _fill_delta(order: OrderRecord, reported: ExchangeOrder) -> tuple[Decimal, Decimal, Decimal] | None:
    """(amount, price, fee in quote) newly filled since we last recorded, or None."""
    amount = reported.filled - Decimal(order.filled)
    if amount <= 0:
        return None
    cost = reported.cost - Decimal(order.cost)
    price = cost / amount if cost > 0 else (reported.average or reported.price or Decimal(0))
    fee = reported.fee_cost - Decimal(order.fee_cost)
    quote = order.symbol.split("/")[1].split(":")[0]
    base = order.symbol.split("/")[0]
    if reported.fee_currency == base:
        fee = fee * price  # valued in quote for PnL
    elif reported.fee_currency not in (None, quote):
        fee = Decimal(0)  # paid in a third currency (e.g. BNB): recorded, not in PnL
    return amount, price, max(fee, Decimal(0))


def record_exchange_state(
    order: OrderRecord,
    reported: ExchangeOrder,
    *,
    now: datetime | None = None,
    extra_events: list[DomainEvent] | None = None,
    announce: tuple[str, ...] = (),
) -> OrderRecord:
    """Bring the row in line with what the exchange reports: state, fills, fees, events.

    `announce` names further order events, built from the order as recorded; `extra_events` are
    ready-made ones. All commit in the same transaction as the change."""
    current = order.state
    target = status_from_exchange(reported)
    delta = _fill_delta(order, reported)
    if target == current and delta is None and order.exchange_order_id == reported.exchange_order_id:
        if order.not_found_count:
            _forget_misses(order)
            commit(order, [])
        return order
    if target != current and not may_move(current, target):
        logger.warning(
            "ignoring an exchange state we cannot move to",
            extra={"order_id": order.order_id, "from": current.value, "to": target.value},
        )
        return order
    events: list[DomainEvent] = []
    order.exchange_order_id = reported.exchange_order_id
    _forget_misses(order)
    if delta is not None:
        amount, price, _ = delta
        fills = order.fills()
        fills.append(
            {
                "amount": str(amount),
                "price": decimal_text(price),
                "fee": decimal_text(delta[2]),
                "at": isoformat(now or utc_now()),
            }
        )
        order.fills_json = json.dumps(fills[-MAX_FILLS_KEPT:])
        order.filled = str(reported.filled)
        order.cost = str(reported.cost)
        order.fee_cost = str(reported.fee_cost)
        order.fee_currency = reported.fee_currency or order.fee_currency
    order.set_status(target)
    accepted_now = current in _NOT_YET_ACCEPTED and target is not OrderStatus.REJECTED
    if accepted_now:
        events.append(order_event("order.submitted", order))
    changed = target != current or (delta is not None and target is OrderStatus.PARTIALLY_FILLED)
    if changed and target in EVENT_FOR_STATUS and not (target is OrderStatus.OPEN and events):
        events.append(order_event(EVENT_FOR_STATUS[target], order))
    events.extend(order_event(event_type, order) for event_type in announce)
    events.extend(extra_events or [])
    commit(order, events, fill=delta)
    if target in ON_EXCHANGE or target is OrderStatus.FILLED:
        metrics.add_metric(name="OrdersRecorded", unit=MetricUnit.Count, value=1)
    if accepted_now:
        _meter_placed(order, now or utc_now())
    return order


def _meter_placed(order: OrderRecord, now: datetime) -> None:
    """Usage metering (billing): an order the exchange accepted counts once, whoever recorded it
    first (the trade worker, or the reconciler finding or adopting it). After the commit and never
    able to fail it: the order is in the books either way, and a lost count under-bills rather than
    double-bills."""
    from shared.billing.metering import record_usage

    try:
        record_usage(order.tenant_id, "orders_placed", order.order_id, 1, now)
    except Exception:  # metering must not fail the money path
        logger.exception("an order placed was not metered", extra={"order_id": order.order_id})
        metrics.add_metric(name="UsageNotMetered", unit=MetricUnit.Count, value=1)


def adopt_late_order(order: OrderRecord, reported: ExchangeOrder, *, now: datetime) -> OrderRecord:
    """An order declared NOT_PLACED has appeared on the exchange: take it back into our books.

    Its real state and fills are recorded (the fills move the position, so a bot's next decision
    sees them), `order.found_after_not_placed` and `alert.late_order_adopted` are published, and
    what is still open of it is marked for cancellation: its owner was told it was not placed
    and may have acted again, so it must not add to a position a second time."""
    not_placed_at = order.not_placed_at
    order.watch_until = None
    order.reason = "found_after_not_placed"
    if status_from_exchange(reported) in ON_EXCHANGE:
        order.cancel_requested = True
    alert = new_event(
        "alert.late_order_adopted",
        tenant_id=order.tenant_id,
        source=SOURCE,
        data=LateOrderAdoptedData(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            exchange_account_id=order.account_id,
            exchange=order.exchange,
            symbol=order.symbol,
            exchange_status=reported.status.value,
            filled=decimal_text(reported.filled),
            not_placed_at=isoformat(not_placed_at) if not_placed_at else None,
            found_at=isoformat(now),
        ),
    )
    record_exchange_state(order, reported, now=now, extra_events=[alert], announce=("order.found_after_not_placed",))
    metrics.add_metric(name="LateOrdersAdopted", unit=MetricUnit.Count, value=1)
    logger.warning(
        "an order declared not placed appeared on the exchange and was adopted",
        extra={"order_id": order.order_id, "status": order.status},
    )
    return order
