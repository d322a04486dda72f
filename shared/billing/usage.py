"""How much of each plan limit a tenant uses today, counted from the tables that hold it.

One function, so the entitlement checks and `GET /v1/billing/subscription` read the same numbers.
Live exchange accounts and seats are not counted here yet (the entitlements work owns them).
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.billing.plans import LimitName


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def current_usage(tenant_id: str, now: datetime) -> dict[LimitName, int]:
    """Bots (any status), webhook subscriptions and backtests since the start of this UTC month."""
    from shared.backtest.records import count_backtests_since
    from shared.bots.models import count_bots
    from shared.webhooks.subscriptions import WEBHOOK_PREFIX, count_subscriptions

    return {
        "bots": count_bots(tenant_id),
        "webhook_subscriptions": count_subscriptions(tenant_id, WEBHOOK_PREFIX),
        "backtests_per_month": count_backtests_since(tenant_id, int(month_start(now).timestamp() * 1000)),
    }
