"""billing-stripe (issue 13): `data` of plan changes and failed payments, from Stripe's webhooks."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class PlanChangedData(EventData):
    old_plan: Literal["free", "pro", "team"]
    new_plan: Literal["free", "pro", "team"]
    reason: str  # the Stripe event type that caused it, or `grace_period_expired`
    subscription_id: str | None
    subscription_status: str | None


class PaymentFailedData(EventData):
    plan: Literal["free", "pro", "team"]
    subscription_id: str | None
    invoice_id: str | None
    grace_until: str
