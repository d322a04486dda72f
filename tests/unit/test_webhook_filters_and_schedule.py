"""Event type patterns (webhooks and SNS filter policies), the retry schedule, and the generated
event docs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import ValidationFailed
from shared.events.catalog import EVENT_TYPES
from shared.webhooks.event_filters import matches, normalize_patterns, sns_filter_policy
from shared.webhooks.retry_schedule import backoff_seconds, next_attempt_delay
from tools.event_docs import DOCS_PATH, render


def test_family_wildcard_matches_its_family_only() -> None:
    assert matches(["order.*"], "order.filled")
    assert not matches(["order.*"], "bot.started")
    assert not matches(["order.*"], "orders.filled")
    assert matches(["bot.started"], "bot.started") and not matches(["bot.started"], "bot.stopped")
    assert all(matches(["*"], name) for name in EVENT_TYPES if name != "webhook.ping")


def test_ping_is_never_matched_by_a_pattern() -> None:
    assert not matches(["*"], "webhook.ping")
    assert not matches(["webhook.*"], "webhook.ping")


@pytest.mark.parametrize(
    "patterns",
    [
        [],
        ["order"],
        ["order.fill"],
        ["nosuch.*"],
        ["*.filled"],
        ["webhook.ping"],
        ["order.*", "bogus.thing"],
        ["x"] * 51,
    ],
)
def test_unknown_or_malformed_patterns_are_refused(patterns: list[str]) -> None:
    with pytest.raises(ValidationFailed):
        normalize_patterns(patterns)


def test_patterns_are_deduplicated_and_sorted() -> None:
    assert normalize_patterns(["order.*", "bot.started", "order.*"]) == ["bot.started", "order.*"]


def test_sns_filter_policy_always_pins_the_tenant() -> None:
    assert sns_filter_policy("ten_a", ["*"]) == {"tenant_id": ["ten_a"]}
    assert sns_filter_policy("ten_a", ["bot.started", "order.*"]) == {
        "tenant_id": ["ten_a"],
        "type": ["bot.started", {"prefix": "order."}],
    }


def test_backoff_is_full_jitter_under_an_exponential_ceiling_capped_at_15_minutes() -> None:
    rng = random.Random(7)
    for attempt in range(1, 30):
        ceiling = min(900, 10 * 2 ** (attempt - 1))
        samples = [backoff_seconds(attempt, rng, base=10, cap=900) for _ in range(200)]
        assert all(1 <= s <= ceiling for s in samples)
        if ceiling >= 40:
            assert min(samples) < ceiling / 4 and max(samples) > ceiling * 3 / 4  # spread over the range


def test_last_attempt_lands_on_the_deadline_then_gives_up() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    deadline = now + timedelta(seconds=30)
    rng = random.Random(1)
    delays = [next_attempt_delay(10, now, deadline, rng, base=10, cap=900) for _ in range(100)]
    assert all(d is not None and 1 <= d <= 30 for d in delays)
    assert 30 in delays  # draws beyond the deadline are clipped onto it
    assert next_attempt_delay(10, deadline, deadline, rng, base=10, cap=900) is None
    assert next_attempt_delay(1, deadline + timedelta(seconds=1), deadline, rng, base=10, cap=900) is None


def test_event_docs_are_current() -> None:
    assert DOCS_PATH.read_text() == render(), "run `make event-docs` and commit docs/events.md"
    assert "## `webhook.delivery_failed`" in render() and "Version 1." in render()
