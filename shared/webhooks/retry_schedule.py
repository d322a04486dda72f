"""When to try a failed webhook delivery again: exponential backoff with full jitter (AWS
Architecture Blog, "Exponential Backoff And Jitter"): wait a uniformly random time between 1 s
and min(cap, base * 2^(attempt-1)). Jitter spreads the retries of many deliveries that failed
together (an endpoint coming back up is not hit by all of them at once)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def backoff_seconds(failed_attempt: int, rng: random.Random, *, base: int, cap: int) -> int:
    """Seconds to wait after attempt number `failed_attempt` (1-based) failed."""
    ceiling = min(cap, base * 2 ** min(failed_attempt - 1, 20))
    return rng.randint(1, max(1, ceiling))


def next_attempt_delay(
    failed_attempt: int, now: datetime, deadline: datetime, rng: random.Random, *, base: int, cap: int
) -> int | None:
    """The delay before the next attempt, or None when the retry window is over (give up).

    The last attempt lands on the deadline rather than after it, so the window is used in full."""
    if now >= deadline:
        return None
    delay = backoff_seconds(failed_attempt, rng, base=base, cap=cap)
    remaining = (deadline - now) / timedelta(seconds=1)
    return max(1, min(delay, int(remaining + 0.999)))
