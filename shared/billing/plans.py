"""The plans and what each allows: the one table every limit is read from.

A limit of `None` means unlimited. Stripe price ids differ per environment, so they come from
settings (`stripe_price_pro`, `stripe_price_team`); the free plan has no price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlanName = Literal["free", "pro", "team"]
LimitName = Literal[
    "live_exchange_accounts",
    "bots",
    "backtests_per_month",
    "sweep_combinations",
    "webhook_subscriptions",
    "seats",
]

PLAN_ORDER: tuple[PlanName, ...] = ("free", "pro", "team")


@dataclass(frozen=True)
class PlanLimits:
    live_exchange_accounts: bool
    bots: int | None
    backtests_per_month: int | None
    sweep_combinations: int | None
    webhook_subscriptions: int | None
    seats: int | None

    def allows(self, limit: LimitName, wanted: int) -> bool:
        """Whether `wanted` (a count, or 1 for a yes/no feature) fits this plan's `limit`."""
        value = getattr(self, limit)
        if isinstance(value, bool):
            return value or wanted <= 0
        return value is None or wanted <= value


@dataclass(frozen=True)
class Plan:
    name: PlanName
    title: str
    limits: PlanLimits


PLANS: dict[PlanName, Plan] = {
    "free": Plan(
        "free",
        "Free",
        PlanLimits(
            live_exchange_accounts=False,
            bots=3,
            backtests_per_month=10,
            sweep_combinations=10,
            webhook_subscriptions=1,
            seats=1,
        ),
    ),
    "pro": Plan(
        "pro",
        "Pro",
        PlanLimits(
            live_exchange_accounts=True,
            bots=25,
            backtests_per_month=500,
            sweep_combinations=100,
            webhook_subscriptions=10,
            seats=1,
        ),
    ),
    "team": Plan(
        "team",
        "Team",
        PlanLimits(
            live_exchange_accounts=True,
            bots=200,
            backtests_per_month=None,
            sweep_combinations=1000,
            webhook_subscriptions=25,
            seats=10,
        ),
    ),
}


def plan_named(name: str) -> Plan:
    """The plan called `name`; an unknown name (an old or hand-edited row) is treated as free."""
    for plan in PLANS.values():
        if plan.name == name:
            return plan
    return PLANS["free"]


def plan_lifting(limit: LimitName, wanted: int) -> Plan | None:
    """The cheapest plan whose `limit` allows `wanted`: what an error names as the way out."""
    for name in PLAN_ORDER:
        if PLANS[name].limits.allows(limit, wanted):
            return PLANS[name]
    return None
