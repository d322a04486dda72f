"""The billing API's request and response models."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class LimitsOut(BaseModel):
    live_exchange_accounts: bool
    bots: int | None = Field(description="`null`: unlimited (as for every limit below).")
    backtests_per_month: int | None
    sweep_combinations: int | None
    webhook_subscriptions: int | None
    seats: int | None


class PlanOut(BaseModel):
    name: Literal["free", "pro", "team"]
    title: str
    limits: LimitsOut
    purchasable: bool = Field(description="Whether checkout can sell it here (a Stripe price is configured).")


class PlanList(BaseModel):
    plans: list[PlanOut]


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Literal["pro", "team"]
    success_url: str = Field(min_length=8, max_length=2000)
    cancel_url: str = Field(min_length=8, max_length=2000)


class PortalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: str = Field(min_length=8, max_length=2000)


class SessionOut(BaseModel):
    id: str
    url: str


class UsageOut(BaseModel):
    limit: str
    used: int
    allowed: int | None = Field(description="`null`: unlimited.")


class SubscriptionOut(BaseModel):
    plan: Literal["free", "pro", "team"] = Field(description="The plan in force (limits apply from it).")
    subscribed_plan: Literal["free", "pro", "team"] = Field(description="The plan the subscription pays for.")
    status: Literal["active", "trialing", "past_due", "canceled", "incomplete"] | None
    current_period_start: AwareDatetime | None
    current_period_end: AwareDatetime | None
    cancel_at_period_end: bool
    payment_failed_at: AwareDatetime | None
    grace_until: AwareDatetime | None
    usage: list[UsageOut]


class WebhookReceipt(BaseModel):
    received: bool = True
    outcome: Literal["processed", "duplicate", "ignored"]
