"""The end of grace periods: a tenant whose payment failed keeps its plan for
`billing_grace_period_days`, then drops to free, found by an hourly sweep of the sparse `grace`
index (a later Stripe event would also apply it, but none may come in time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.billing.models import get_billing, grace_expired_before
from shared.billing.plan_changes import GRACE_EXPIRED_REASON, commit_billing_change
from shared.config import get_settings


def end_expired_grace_periods(now: datetime) -> int:
    """Downgrade every tenant whose grace period is over; returns how many were downgraded."""
    cutoff = now - timedelta(days=get_settings().billing_grace_period_days)
    downgraded = 0
    for tenant_id in grace_expired_before(cutoff):
        row = get_billing(tenant_id)
        if row is not None and row.payment_failed_at is not None and row.payment_failed_at <= cutoff:
            commit_billing_change(row, {}, reason=GRACE_EXPIRED_REASON, now=now)
            downgraded += 1
    return downgraded
