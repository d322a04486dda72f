"""Failed-login throttling per (email, client IP) and per client IP, with exponential backoff.

Why not a per-account lock: anyone who knows an email could lock its owner out by failing on
purpose. Here a stranger's failures slow down only the stranger's (email, IP) pair and, past a
higher threshold, the stranger's IP; the owner logging in from their usual client is untouched.
Unknown emails are throttled exactly like known ones, so throttling reveals nothing either.
Signups for an email that is taken count against the client's IP too, so probing which emails
exist through signup is throttled like guessing passwords.

The counters live in the Users table under keys that can never be emails (`#` prefix, no `@`),
so the auth function needs no other table or permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta

BACKOFF_BASE_SECONDS = 30  # the first wait once a threshold is reached; each further failure doubles it


class LoginThrottleRecord(Model):
    class Meta(BaseMeta):
        table_setting = "users_table"

    email = UnicodeAttribute(hash_key=True)  # the Users table's key attribute; here a throttle key
    failures = NumberAttribute(default=0)
    last_failure_at = UTCDateTimeAttribute(null=True)
    blocked_until = UTCDateTimeAttribute(null=True)


@dataclass(frozen=True)
class _Counter:
    key: str
    threshold: int


def _counters(email: str | None, client_ip: str) -> list[_Counter]:
    """The (email, IP) pair's counter and the IP's; only the IP's without an email (signup)."""
    settings = get_settings()
    ip = _Counter(f"#login-throttle#ip#{client_ip}", settings.login_ip_max_failures)
    if email is None:
        return [ip]
    return [_Counter(f"#login-throttle#pair#{client_ip}#{email}", settings.login_max_failures), ip]


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    if moment is None or moment <= now:
        return 0
    return int((moment - now).total_seconds()) + 1


@dataclass(frozen=True)
class LoginAttempt:
    """One signup or login attempt's counters, read once (one BatchGetItem) when it begins and
    reused to decide whether it may go ahead and, if it fails, how to count the failure."""

    counters: list[tuple[_Counter, LoginThrottleRecord | None]]

    def retry_after(self, now: datetime) -> int:
        """Seconds this client must still wait before a password is even checked; 0 to go ahead."""
        return max((_seconds_until(row.blocked_until, now) for _, row in self.counters if row), default=0)

    def record_failure(self, now: datetime) -> int:
        """Count a failed login (or, without an email, a signup for a taken email); the seconds to
        wait now (0 while under the thresholds). Failures older than `login_lockout_seconds` are
        forgotten. The count itself is an atomic ADD, so concurrent failures are all counted."""
        settings = get_settings()
        window = timedelta(seconds=settings.login_lockout_seconds)
        wait = 0
        for counter, seen in self.counters:
            row = seen or LoginThrottleRecord(counter.key)
            stale = row.last_failure_at is None or now - row.last_failure_at > window
            row.update(
                actions=[
                    LoginThrottleRecord.failures.set(1) if stale else LoginThrottleRecord.failures.add(1),
                    LoginThrottleRecord.last_failure_at.set(now),
                ]
            )
            beyond = int(row.failures) - counter.threshold
            if beyond >= 0:
                delay = min(settings.login_lockout_seconds, BACKOFF_BASE_SECONDS * (1 << min(beyond, 20)))
                row.update(actions=[LoginThrottleRecord.blocked_until.set(now + timedelta(seconds=delay))])
                wait = max(wait, delay)
        return wait

    def record_success(self) -> None:
        """A correct password from this client clears the pair's failures (not the IP's)."""
        pair, row = self.counters[0]
        if row is not None:
            LoginThrottleRecord(pair.key).delete()


def begin(email: str | None, client_ip: str) -> LoginAttempt:
    """The attempt's counters, as they stand (absent ones as None)."""
    counters = _counters(email, client_ip)
    rows = {row.email: row for row in LoginThrottleRecord.batch_get([c.key for c in counters])}
    return LoginAttempt([(counter, rows.get(counter.key)) for counter in counters])
