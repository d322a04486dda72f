"""Recording a billing change: the Billing row, the tenant's plan, the processed Stripe event and
the domain events, in one transaction; then the plan change's consequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.billing.entitlements import enforce_plan_limits
from shared.billing.models import GRACE_SHARD, BillingRecord, stage_event_processed
from shared.billing.plans import PLAN_ORDER, PlanName, plan_named
from shared.billing.subscriptions import effective_plan, grace_ends
from shared.clock import isoformat
from shared.events.data.billing import PaymentFailedData, PlanChangedData
from shared.events.envelope import DomainEvent, new_event
from shared.events.transactions import commit_with_events
from shared.observability import logger
from shared.persistence import condition_failed
from shared.tenants.models import TenantRecord, get_tenant, stage_tenant_update

SOURCE = "cryptoorchestrator.billing"
# Billing row fields a change may set (None removes the attribute).
FIELDS = (
    "subscription_id",
    "price_id",
    "plan",
    "status",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "payment_failed_at",
    "payment_event_at",
    "stripe_customer_id",
)


@dataclass(frozen=True)
class StripeEventMark:
    """The Stripe event a change comes from: marked processed in the change's transaction."""

    event_id: str
    event_type: str


GRACE_EXPIRED_REASON = "grace_period_expired"  # a failed payment outlasted its grace period


def apply_plan_change(tenant_id: str, old_plan: PlanName, new_plan: PlanName, reason: str) -> None:
    """What follows a committed plan change beyond the plan itself: after a downgrade, the running
    bots the new plan no longer allows are stopped (newest first; shared.billing.entitlements).
    Stopping is idempotent, so a redelivered event runs it again (see `enforce_after_redelivery`)
    and a crash between the commit and the stops heals on Stripe's retry."""
    logger.info(
        "plan changed", extra={"tenant_id": tenant_id, "old_plan": old_plan, "new_plan": new_plan, "reason": reason}
    )
    if PLAN_ORDER.index(new_plan) < PLAN_ORDER.index(old_plan):
        enforce_plan_limits(tenant_id, "payment_failed" if reason == GRACE_EXPIRED_REASON else "plan_downgraded")


def enforce_after_redelivery(tenant_id: str) -> None:
    """A Stripe event we already applied came again (Stripe retries when our answer was lost or
    late): finish what its first delivery may not have, the stops a downgrade calls for."""
    enforce_plan_limits(tenant_id, "plan_downgraded")


def commit_billing_change(
    row: BillingRecord,
    changes: dict[str, Any],
    *,
    reason: str,
    now: datetime,
    mark: StripeEventMark | None = None,
    invoice_id: str | None = None,
) -> bool:
    """Write `changes` to the tenant's Billing row, the plan they imply to the tenant, and their
    events, in one transaction (with `mark`, which fails it when that Stripe event was already
    processed). Returns False when it was (nothing written)."""
    after = {name: changes.get(name, getattr(row, name)) for name in FIELDS}
    tenant = get_tenant(row.tenant_id)
    old_plan = plan_named(tenant.plan if tenant is not None else "free").name
    new_plan = effective_plan(after["plan"], after["status"], after["payment_failed_at"], now)
    events: list[DomainEvent] = []
    if tenant is not None and new_plan != old_plan:
        data = PlanChangedData(
            old_plan=old_plan,
            new_plan=new_plan,
            reason=reason,
            subscription_id=after["subscription_id"],
            subscription_status=after["status"],
        )
        events.append(new_event("billing.plan_changed", tenant_id=row.tenant_id, source=SOURCE, data=data))
    if after["payment_failed_at"] is not None and row.payment_failed_at is None:
        failed = PaymentFailedData(
            plan=plan_named(after["plan"]).name,
            subscription_id=after["subscription_id"],
            invoice_id=invoice_id,
            grace_until=isoformat(grace_ends(after["payment_failed_at"])),
        )
        events.append(new_event("billing.payment_failed", tenant_id=row.tenant_id, source=SOURCE, data=failed))

    actions: list[Action] = []
    for name in FIELDS:
        if name in changes:
            attribute: Attribute[Any] = getattr(BillingRecord, name)
            value = changes[name]
            actions.append(attribute.remove() if value is None else attribute.set(value))
    in_grace = after["payment_failed_at"] is not None and new_plan != "free"
    if in_grace != (row.grace_shard is not None):
        actions.append(BillingRecord.grace_shard.set(GRACE_SHARD) if in_grace else BillingRecord.grace_shard.remove())
    actions.append(BillingRecord.updated_at.set(now))

    def stage(tx: TransactWrite) -> None:
        tx.update(row, actions=actions, condition=BillingRecord.stripe_customer_id == row.stripe_customer_id)
        if tenant is not None and new_plan != old_plan:
            stage_tenant_update(tx, tenant, [TenantRecord.plan.set(new_plan)])
        if mark is not None:
            stage_event_processed(tx, mark.event_id, mark.event_type, row.tenant_id, reason, now)

    try:
        commit_with_events(stage, events)
    except TransactWriteError as exc:
        if mark is not None and condition_failed(exc):
            return False
        raise
    if new_plan != old_plan:
        apply_plan_change(row.tenant_id, old_plan, new_plan, reason)
    return True
