"""The local cloud's schedule expressions (EventBridge rate() and cron())."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.schedules import cron_matches, rate_seconds


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 hour)", 3600),
        ("rate(1 day)", 86400),
        ("rate(3 days)", 3 * 86400),
        ("  rate(10 minutes)  ", 600),
    ],
)
def test_rate_seconds(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "rate()",
        "rate(minutes)",
        "rate(x minutes)",
        "rate(-5 minutes)",
        "rate(1.5 hours)",
        "rate 5 minutes",
        "cron(0 * * * ? *)",
        "every 5 minutes",
        "rate(5minutes)",
    ],
    ids=repr,
)
def test_rate_seconds_bad_is_none(expression: str) -> None:
    assert rate_seconds(expression) is None


@pytest.mark.parametrize("expression", ["rate(5 seconds)", "rate(2 weeks)"])
def test_rate_seconds_unknown_unit_is_none(expression: str) -> None:
    assert rate_seconds(expression) is None


def test_rate_seconds_zero_is_none() -> None:
    assert rate_seconds("rate(0 minutes)") is None


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 2024-06-02 is a Sunday, 2024-06-03 a Monday, 2024-06-07 a Friday, 2024-06-08 a Saturday.
SUNDAY, MONDAY, FRIDAY, SATURDAY = 2, 3, 7, 8


def test_calendar_assumptions() -> None:
    assert at(2024, 6, SUNDAY, 0, 0).strftime("%A") == "Sunday"
    assert at(2024, 6, MONDAY, 0, 0).strftime("%A") == "Monday"
    assert at(2024, 6, FRIDAY, 0, 0).strftime("%A") == "Friday"
    assert at(2024, 6, SATURDAY, 0, 0).strftime("%A") == "Saturday"


def test_every_fifteen_minutes() -> None:
    expression = "cron(0/15 * * * ? *)"
    start = at(2024, 6, MONDAY, 10, 0)
    matched = [m for m in range(120) if cron_matches(expression, start + timedelta(minutes=m))]
    assert matched == [0, 15, 30, 45, 60, 75, 90, 105]


def test_weekdays_at_noon() -> None:
    expression = "cron(0 12 ? * 2-6 *)"  # Monday to Friday; day-of-week 1 is Sunday
    for day in range(MONDAY, FRIDAY + 1):
        assert cron_matches(expression, at(2024, 6, day, 12, 0)), day
    assert not cron_matches(expression, at(2024, 6, SUNDAY, 12, 0))
    assert not cron_matches(expression, at(2024, 6, SATURDAY, 12, 0))
    assert not cron_matches(expression, at(2024, 6, MONDAY, 12, 1))
    assert not cron_matches(expression, at(2024, 6, MONDAY, 11, 0))
    assert not cron_matches(expression, at(2024, 6, MONDAY, 0, 0))


@pytest.mark.parametrize(
    ("dow", "day"),
    [(1, SUNDAY), (2, MONDAY), (6, FRIDAY), (7, SATURDAY)],
)
def test_day_of_week_numbering(dow: int, day: int) -> None:
    expression = f"cron(30 8 ? * {dow} *)"
    matching = [d for d in range(SUNDAY, SUNDAY + 7) if cron_matches(expression, at(2024, 6, d, 8, 30))]
    assert matching == [day]


def test_hourly_and_lists() -> None:
    assert cron_matches("cron(0 * * * ? *)", at(2024, 1, 1, 5, 0))
    assert not cron_matches("cron(0 * * * ? *)", at(2024, 1, 1, 5, 1))
    expression = "cron(5,35 14 * * ? *)"
    assert cron_matches(expression, at(2024, 3, 9, 14, 5))
    assert cron_matches(expression, at(2024, 3, 9, 14, 35))
    assert not cron_matches(expression, at(2024, 3, 9, 14, 20))
    assert not cron_matches(expression, at(2024, 3, 9, 15, 5))


def test_ranges_with_steps_and_dates() -> None:
    expression = "cron(0-30/10 9 1 1 ? 2025)"  # 09:00, 09:10, 09:20, 09:30 on January 1st 2025
    hits = [m for m in range(60) if cron_matches(expression, at(2025, 1, 1, 9, m))]
    assert hits == [0, 10, 20, 30]
    assert not cron_matches(expression, at(2024, 1, 1, 9, 0))
    assert not cron_matches(expression, at(2025, 1, 2, 9, 0))
    assert not cron_matches(expression, at(2025, 2, 1, 9, 0))


def test_day_of_month_step() -> None:
    expression = "cron(0 0 1/10 * ? *)"
    days = [d for d in range(1, 31) if cron_matches(expression, at(2024, 4, d, 0, 0))]
    assert days == [1, 11, 21]


@pytest.mark.parametrize("expression", ["rate(1 minute)", "", "0 * * * ? *", "cron()"], ids=repr)
def test_non_cron_never_matches(expression: str) -> None:
    assert cron_matches(expression, at(2024, 6, MONDAY, 0, 0)) is False
