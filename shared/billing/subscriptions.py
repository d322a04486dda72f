"""What a Stripe subscription means for us: its plan, status and period, and the plan the tenant
actually gets (the grace period after a failed payment included).

Reads both shapes Stripe has used: the period on the subscription (older API versions, localstripe)
or on its items (2025-03-31 and later).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.billing.plans import PlanName
from shared.config import get_settings

# Stripe's statuses on the five we expose.
STATUS_OF: dict[str, str] = {
    "active": "active",
    "trialing": "trialing",
    "past_due": "past_due",
    "unpaid": "past_due",
    "incomplete": "incomplete",
    "incomplete_expired": "canceled",
    "canceled": "canceled",
    "paused": "canceled",
}
PAID_STATUSES = frozenset({"active", "trialing", "past_due"})


@dataclass(frozen=True)
class SubscriptionState:
    subscription_id: str
    customer_id: str
    price_id: str | None
    plan: PlanName
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool


def plan_of_price(price_id: str | None) -> PlanName:
    """The plan a Stripe price pays for (per-environment ids from settings); unknown ones: free."""
    settings = get_settings()
    if price_id and price_id == settings.stripe_price_pro:
        return "pro"
    if price_id and price_id == settings.stripe_price_team:
        return "team"
    return "free"


def price_of_plan(plan: PlanName) -> str:
    settings = get_settings()
    return {"pro": settings.stripe_price_pro, "team": settings.stripe_price_team}.get(plan, "")


def _moment(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), UTC) if seconds else None


def state_of(subscription: Mapping[str, Any]) -> SubscriptionState:
    """Our reading of a Stripe subscription object (as fetched, never as an event described it)."""
    items = (subscription.get("items") or {}).get("data") or []
    first: Mapping[str, Any] = items[0] if items else {}
    price = first.get("price") or first.get("plan") or {}
    price_id = price.get("id") if isinstance(price, Mapping) else None
    start = first.get("current_period_start") or subscription.get("current_period_start")
    end = first.get("current_period_end") or subscription.get("current_period_end")
    return SubscriptionState(
        subscription_id=str(subscription["id"]),
        customer_id=str(subscription["customer"]),
        price_id=price_id,
        plan=plan_of_price(price_id),
        status=STATUS_OF.get(str(subscription.get("status")), "incomplete"),
        current_period_start=_moment(start),
        current_period_end=_moment(end),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
    )


def grace_ends(payment_failed_at: datetime) -> datetime:
    return payment_failed_at + timedelta(days=get_settings().billing_grace_period_days)


def effective_plan(paid_plan: str, status: str | None, payment_failed_at: datetime | None, now: datetime) -> PlanName:
    """The plan the tenant gets: what it pays for while the subscription is live and any failed
    payment is within its grace period; free otherwise."""
    if status not in PAID_STATUSES or paid_plan not in ("pro", "team"):
        return "free"
    if payment_failed_at is not None and now >= grace_ends(payment_failed_at):
        return "free"
    return "pro" if paid_plan == "pro" else "team"
