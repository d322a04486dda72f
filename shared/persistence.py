"""PynamoDB plumbing common to every table: region, timeouts, retries.

The endpoint is never set here: botocore resolves it from AWS_ENDPOINT_URL(_DYNAMODB), so the
same code talks to AWS, moto or LocalStack.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from shared.config import get_settings


class _BoundAtFirstUse(type):
    """Table name and region are read from the settings when PynamoDB first asks for them, not
    when a model is defined: importing a module never needs AWS configuration, and neither the
    order of imports nor of tests can freeze a stale name."""

    @property
    def table_name(cls) -> str:
        return str(getattr(get_settings(), cls.table_setting))  # type: ignore[attr-defined]

    @property
    def region(cls) -> str:
        return get_settings().aws_region


class BaseMeta(metaclass=_BoundAtFirstUse):
    table_setting = ""  # the Settings field holding this table's name
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3
    billing_mode = "PAY_PER_REQUEST"


ModelT = TypeVar("ModelT", bound=Model)


def get_or_none[ModelT: Model](model: type[ModelT], hash_key: Any, range_key: Any = None) -> ModelT | None:
    """One strongly consistent GetItem; None when there is no such row."""
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except model.DoesNotExist:
        return None


@lru_cache(maxsize=1)
def connection() -> Connection:
    """One PynamoDB connection per process, for transactions."""
    return Connection(region=get_settings().aws_region)


def condition_failed(exc: TransactWriteError) -> bool:
    """Whether a transaction was cancelled because one of its conditions failed.

    PynamoDB orders items by kind (condition checks, deletes, puts, updates), not as staged, so
    callers cannot rely on positions; outbox rows' conditions (a fresh event id) never fail, and
    commit_with_events retries when only an event sequence counter moved (a concurrent commit
    for the same aggregate), so a failed condition that reaches a caller is its own (or, after
    repeated contention on one aggregate, a conflict worth the caller's usual reload and retry).
    """
    return any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons)


def transaction_conflicted(exc: TransactWriteError) -> bool:
    """Whether a transaction was cancelled only because another one held one of its items (no
    condition failed, nothing was written): safe to run again."""
    codes = {reason.code for reason in exc.cancellation_reasons if reason is not None and reason.code != "None"}
    return bool(codes) and codes <= {"TransactionConflict"}


def forget_model_connections() -> None:
    """Drop every table model's cached connection (and its HTTP pool): after a SnapStart restore
    each environment opens its own."""
    pending: list[type[Model]] = [Model]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "_connection" in vars(model):
            model._connection = None
