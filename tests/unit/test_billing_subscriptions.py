"""Reading Stripe subscriptions (both API shapes) and the plan a tenant gets from them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.billing.subscriptions import effective_plan, plan_of_price, state_of
from shared.config import get_settings

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STRIPE_PRICE_PRO", "price_pro")
    monkeypatch.setenv("STRIPE_PRICE_TEAM", "price_team")
    monkeypatch.setenv("BILLING_GRACE_PERIOD_DAYS", "7")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_period_on_the_items_and_a_price_as_current_api_versions_send_it() -> None:
    state = state_of(
        {
            "id": "sub_1",
            "customer": "cus_1",
            "status": "trialing",
            "cancel_at_period_end": True,
            "items": {
                "data": [
                    {
                        "price": {"id": "price_team"},
                        "current_period_start": 1_700_000_000,
                        "current_period_end": 1_702_592_000,
                    }
                ]
            },
        }
    )
    assert (state.plan, state.status, state.cancel_at_period_end) == ("team", "trialing", True)
    assert state.current_period_end == datetime.fromtimestamp(1_702_592_000, UTC)


def test_the_period_on_the_subscription_and_a_plan_as_older_versions_send_it() -> None:
    state = state_of(
        {
            "id": "sub_2",
            "customer": "cus_1",
            "status": "active",
            "current_period_start": 1_700_000_000,
            "current_period_end": 1_702_592_000,
            "items": {"data": [{"plan": {"id": "price_pro"}}]},
        }
    )
    assert (state.plan, state.price_id, state.cancel_at_period_end) == ("pro", "price_pro", False)
    assert state.current_period_start == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("unpaid", "past_due"),
        ("incomplete_expired", "canceled"),
        ("paused", "canceled"),
        ("something_new", "incomplete"),
    ],
)
def test_stripe_statuses_map_onto_ours(stripe_status: str, ours: str) -> None:
    assert state_of({"id": "sub", "customer": "cus", "status": stripe_status}).status == ours


def test_an_unknown_price_pays_for_nothing() -> None:
    assert plan_of_price("price_from_another_environment") == "free"
    assert plan_of_price(None) == "free"


@pytest.mark.parametrize(
    ("plan", "status", "failed_days_ago", "expected"),
    [
        ("pro", "active", None, "pro"),
        ("team", "trialing", None, "team"),
        ("pro", "past_due", 6, "pro"),  # within the grace period
        ("pro", "past_due", 7, "free"),  # grace over
        ("pro", "active", 8, "free"),
        ("pro", "canceled", None, "free"),
        ("pro", "incomplete", None, "free"),
        ("free", "active", None, "free"),
        ("pro", None, None, "free"),
    ],
)
def test_the_plan_in_force(plan: str, status: str | None, failed_days_ago: int | None, expected: str) -> None:
    failed = None if failed_days_ago is None else NOW - timedelta(days=failed_days_ago)
    assert effective_plan(plan, status, failed, NOW) == expected
