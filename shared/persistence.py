"""PynamoDB plumbing common to every table: region, timeouts, retries.

The endpoint is never set here: botocore resolves it from AWS_ENDPOINT_URL(_DYNAMODB), so the
same code talks to AWS, moto or LocalStack.
"""

from __future__ import annotations

from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError

from shared.config import get_settings


class BaseMeta:
    region = get_settings().aws_region
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3
    billing_mode = "PAY_PER_REQUEST"


@lru_cache(maxsize=1)
def connection() -> Connection:
    """One PynamoDB connection per process, for transactions."""
    return Connection(region=get_settings().aws_region)


def condition_failed(exc: TransactWriteError) -> bool:
    """Whether a transaction was cancelled because one of its conditions failed.

    PynamoDB orders items by kind (condition checks, deletes, puts, updates), not as staged, so
    callers cannot rely on positions; outbox rows' conditions (a fresh event id) never fail, so
    a failed condition is always the caller's own.
    """
    return any(reason is not None and reason.code == "ConditionalCheckFailed"
               for reason in exc.cancellation_reasons)
