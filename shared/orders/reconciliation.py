"""The reconciler: every minute, bring each non-terminal order in line with the exchange.

- OPEN / PARTIALLY_FILLED: fetch, apply fills, record the final state.
- UNKNOWN: fetch by client order id. Found: its real state. Not found: declared NOT_PLACED only
  after the submit deadline has passed (no request can still be in flight) and after
  `order_not_found_threshold` misses, each at least `order_not_found_interval_seconds` after the
  previous counted one (exchange replicas lag). It is never resent.
- NOT_PLACED, for `order_not_placed_watch_seconds`: looked up again every
  `order_not_placed_lookup_interval_seconds`; if it appears, it is adopted (its real state and
  fills, an event and an alert) and what is still open of it is canceled.
- SUBMITTING past its deadline: the worker died mid-call; becomes UNKNOWN.
- PENDING_SUBMIT for too long: its task was lost (or dead-lettered); queued again. Safe: the
  worker's conditional claim lets only one attempt through.
It also reports drift: open orders on an exchange that no row of ours explains.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.transactions import TransactWrite

from shared.clock import utc_now
from shared.config import get_settings
from shared.errors import AppError, ExchangeOrderNotFound, ExchangeRejected, ExchangeTemporary, NotFound
from shared.events.data.reconciliation import DriftData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.exchange.connect import open_exchange
from shared.observability import MetricUnit, logger, metrics, tracer
from shared.orders import changes
from shared.orders.models import (
    OrderRecord,
    find_by_client_order_id,
    get_order,
    orders_to_reconcile,
    stage_drift_marker,
)
from shared.orders.protection import watch_protection
from shared.orders.states import ON_EXCHANGE, TERMINAL, OrderStatus, may_move, status_from_exchange
from shared.orders.tasks import TradeTask, enqueue


@dataclass
class ReconcileReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    accounts: set[tuple[str, str, str]] = field(default_factory=set)  # (tenant, account, exchange)
    drift: int = 0


def _task(order: OrderRecord, kind: str) -> TradeTask:
    return TradeTask.model_validate(
        {"kind": kind, "tenant_id": order.tenant_id, "order_id": order.order_id, "account_id": order.account_id}
    )


def _count_miss(order: OrderRecord, now: datetime) -> bool:
    """Count a lookup that missed, if it proves anything: only once the create request can no
    longer be in flight, and only `order_not_found_interval_seconds` after the previous counted
    miss, so several reconciler runs within seconds count once."""
    settings = get_settings()
    if order.submit_deadline is not None and now <= order.submit_deadline:
        return False
    spacing = timedelta(seconds=settings.order_not_found_interval_seconds)
    if order.last_miss_at is not None and now - order.last_miss_at < spacing:
        return False
    order.not_found_count = int(order.not_found_count or 0) + 1
    order.last_miss_at = now
    return True


def _not_found(order: OrderRecord, now: datetime) -> str:
    settings = get_settings()
    counted = _count_miss(order, now)
    if order.state is not OrderStatus.UNKNOWN or order.not_found_count < settings.order_not_found_threshold:
        if counted:
            changes.commit(order, [])
        kind = "unknown" if order.state is OrderStatus.UNKNOWN else "known"
        return f"{kind} order not found ({'counted' if counted else 'too soon to count'})"
    # Never resent: the exchange may only be slow to show it (Binance and Kraken would accept the
    # reused client id once a first order closed, and the account would hold two). The user or
    # bot may act again with a new intent; we keep looking, and adopt the order if it appears.
    order.not_placed_at = now
    order.watch_until = now + timedelta(seconds=settings.order_not_placed_watch_seconds)
    order.last_lookup_at = now
    changes.move(order, OrderStatus.NOT_PLACED, reason="not_found_after_deadline")
    return "not placed: watching for a late appearance"


def _look_for_late_order(order: OrderRecord, now: datetime, *, force: bool = False) -> str:
    """A NOT_PLACED order still in its watch window: look it up by client id, less often than an
    UNKNOWN one; adopt it if it appears; stop watching when the window closes."""
    settings = get_settings()
    interval = timedelta(seconds=settings.order_not_placed_lookup_interval_seconds)
    if not force and order.last_lookup_at is not None and now - order.last_lookup_at < interval:
        return "not placed: watching"
    try:
        reported = open_exchange(order.tenant_id, order.account_id).fetch_order(
            order.symbol, client_order_id=order.client_order_id
        )
    except (ExchangeOrderNotFound, NotFound):
        reported = None
    except (ExchangeTemporary, ExchangeRejected):
        return "not placed: lookup failed, next time"
    if reported is not None and may_move(order.state, status_from_exchange(reported)):
        changes.adopt_late_order(order, reported, now=now)
        if order.state in ON_EXCHANGE:
            # Declared dead, so its owner may have acted again: what filled counts, the rest goes.
            enqueue(_task(order, "cancel"), attempt=f"adopted-{int(now.timestamp()) // 60}")
        return f"not placed: found and adopted ({order.status})"
    order.last_lookup_at = now
    if order.watch_until is None or now >= order.watch_until:
        order.watch_until = None
        order.set_status(OrderStatus.NOT_PLACED)  # leaves the reconcile index
        changes.commit(order, [])
        return "not placed: watch ended"
    changes.commit(order, [])
    return "not placed: still not found"


def _not_yet_on_exchange(order: OrderRecord, now: datetime) -> str:
    """PENDING_SUBMIT and SUBMITTING: nothing to ask the exchange yet, but time may be up."""
    settings = get_settings()
    if order.state is OrderStatus.PENDING_SUBMIT:
        waited = now - (order.queued_at or order.created_at)
        if order.queued_at is None or waited > timedelta(seconds=settings.pending_submit_requeue_seconds):
            enqueue(_task(order, "submit"), attempt=f"requeue-{int(now.timestamp()) // 60}")
            order.queued_at = now
            changes.commit(order, [])
            return "task lost or parked: queued again"
        return "pending"
    if order.submit_deadline is not None and now > order.submit_deadline:
        changes.move(order, OrderStatus.UNKNOWN, reason="submit_interrupted")
        return "stuck submitting: now unknown"
    return "submitting"


@tracer.capture_method(capture_response=False)
def reconcile_order(order: OrderRecord, now: datetime) -> str:
    if order.guards_position:
        return watch_protection(order)
    if order.watched_after_not_placed:
        return _look_for_late_order(order, now)
    if order.state in TERMINAL:
        return "terminal"
    if order.state in (OrderStatus.PENDING_SUBMIT, OrderStatus.SUBMITTING):
        return _not_yet_on_exchange(order, now)
    try:
        exchange = open_exchange(order.tenant_id, order.account_id)
        if order.exchange_order_id:
            reported = exchange.fetch_order(order.symbol, exchange_order_id=order.exchange_order_id)
        else:
            reported = exchange.fetch_order(order.symbol, client_order_id=order.client_order_id)
    except NotFound:
        return "account gone"
    except ExchangeOrderNotFound:
        return _not_found(order, now)
    except ExchangeTemporary:
        return "exchange unavailable: next time"
    except ExchangeRejected as exc:  # e.g. the API key was revoked on the exchange
        logger.warning(
            "exchange refused a reconciliation lookup", extra={"order_id": order.order_id, "reason": exc.reason}
        )
        return f"exchange refused: {exc.reason}"
    changes.record_exchange_state(order, reported, now=now)
    if order.cancel_requested and order.state in ON_EXCHANGE:
        enqueue(_task(order, "cancel"), attempt=f"reconcile-{int(now.timestamp()) // 60}")
    return f"checked ({order.status})"


def _report_drift(tenant_id: str, account_id: str, exchange_id: str, now: datetime) -> int:
    """Open exchange orders our rows do not explain; each reported once. One we declared not
    placed and still watch is looked up (and adopted) at once instead."""
    reported = 0
    try:
        open_orders = open_exchange(tenant_id, account_id).fetch_open_orders()
    except AppError:
        return 0
    for remote in open_orders:
        ours = find_by_client_order_id(remote.client_order_id) if remote.client_order_id else None
        order = get_order(*ours) if ours else None
        if order is not None and order.tenant_id == tenant_id and order.state not in TERMINAL:
            continue
        if order is not None and order.tenant_id == tenant_id and order.watched_after_not_placed:
            with contextlib.suppress(changes.StaleOrder):  # changed meanwhile: the next run looks again
                _look_for_late_order(order, now, force=True)
            continue
        kind = "unknown_open_order" if order is None else "order_state_mismatch"

        def stage(tx: TransactWrite, remote_id: str = remote.exchange_order_id) -> None:
            stage_drift_marker(tx, tenant_id, account_id, remote_id)

        try:
            commit_with_events(
                stage,
                [
                    new_event(
                        "reconciliation.drift_detected",
                        tenant_id=tenant_id,
                        source=changes.SOURCE,
                        data=DriftData(
                            exchange_account_id=account_id,
                            exchange=exchange_id,
                            kind=kind,
                            exchange_order_id=remote.exchange_order_id,
                            client_order_id=remote.client_order_id,
                            symbol=remote.symbol,
                            detail=f"open on the exchange; ours: {order.status if order else 'none'}",
                        ),
                    )
                ],
            )
        except Exception as exc:  # already reported (the marker exists), or transient
            logger.debug("drift not reported again", extra={"error": type(exc).__name__})
            continue
        reported += 1
    return reported


def reconcile_open_orders(now: datetime | None = None, tenant_ids: set[str] | None = None) -> ReconcileReport:
    """One pass over every non-terminal order (or only `tenant_ids`', for an operator's re-run)."""
    report = ReconcileReport()
    moment = now or utc_now()
    for tenant_id, order_id in orders_to_reconcile():
        if tenant_ids is not None and tenant_id not in tenant_ids:
            continue
        order = get_order(tenant_id, order_id)
        if order is None:
            continue
        report.accounts.add((tenant_id, order.account_id, order.exchange))
        try:
            outcome = reconcile_order(order, moment)
        except changes.StaleOrder:
            outcome = "changed meanwhile: next time"
        except Exception:
            logger.exception("reconciling an order failed", extra={"order_id": order_id})
            outcome = "error"
        report.outcomes[outcome.split(":")[0]] += 1
    for tenant_id, account_id, exchange_id in sorted(report.accounts):
        report.drift += _report_drift(tenant_id, account_id, exchange_id, moment)
    metrics.add_metric(name="OrdersReconciled", unit=MetricUnit.Count, value=sum(report.outcomes.values()))
    if report.drift:
        metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=report.drift)
    return report
