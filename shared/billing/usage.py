"""How much of each plan limit a tenant uses, for `GET /v1/billing/subscription`: read from the
same counters the entitlement checks enforce (shared.billing.entitlements), so what a tenant sees
is what a refusal counts. Live exchange accounts and seats are not reported here.
"""

from __future__ import annotations

from shared.billing.plans import LimitName


def current_usage(tenant_id: str) -> dict[LimitName, int]:
    """Bots (any status), webhook subscriptions, and backtests this UTC month."""
    from shared.billing import entitlements
    from shared.billing.models import BOTS, get_counter
    from shared.bots.models import count_bots
    from shared.webhooks.subscriptions import WEBHOOK_PREFIX, count_subscriptions

    counter = get_counter(tenant_id, BOTS)
    return {
        # A tenant whose bots were never counted (none changed since counting began) is counted here.
        "bots": int(counter.total) if counter is not None else count_bots(tenant_id),
        "webhook_subscriptions": count_subscriptions(tenant_id, WEBHOOK_PREFIX),
        "backtests_per_month": entitlements.backtests_used(tenant_id),
    }
