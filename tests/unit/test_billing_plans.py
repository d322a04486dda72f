"""The plan table: limits, unknown names and the plan an error names as the way out."""

from __future__ import annotations

from shared.billing.plans import PLANS, plan_lifting, plan_named


def test_counts_fit_up_to_the_limit_and_none_is_unlimited() -> None:
    free = PLANS["free"].limits
    assert free.allows("bots", 3)
    assert not free.allows("bots", 4)
    assert PLANS["team"].limits.allows("backtests_per_month", 10**9)


def test_yes_no_features() -> None:
    assert not PLANS["free"].limits.allows("live_exchange_accounts", 1)
    assert PLANS["pro"].limits.allows("live_exchange_accounts", 1)


def test_unknown_plan_names_are_free() -> None:
    assert plan_named("pro").name == "pro"
    assert plan_named("enterprise-legacy").name == "free"


def test_the_cheapest_plan_that_lifts_a_limit() -> None:
    assert plan_lifting("bots", 4) is PLANS["pro"]
    assert plan_lifting("bots", 26) is PLANS["team"]
    assert plan_lifting("live_exchange_accounts", 1) is PLANS["pro"]
    assert plan_lifting("bots", 201) is None
