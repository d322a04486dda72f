"""The Backtests table: backtest jobs, sweeps and market datasets of a tenant (the only module
that reads or writes it).

One table, partition key `tenant_id` (every list is one Query; isolation is structural), sort key
`item_id` whose prefix says what the row is: `bt_` a backtest, `swp_` a sweep, `ds_` a dataset.
A sweep's backtests are `bt_<sweep ulid>_<nnnn>`, so they sort together under their sweep and one
Query with `begins_with` reads them all for the ranking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.persistence import BaseMeta, condition_failed, connection, get_or_none

TERMINAL = ("succeeded", "failed")


class _Row(Model):
    class Meta(BaseMeta):
        table_setting = "backtests_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    item_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute()


class BacktestRecord(_Row):
    """One backtest job. `request_json` is the validated request (params included); metrics land in
    `metrics_json`; trades and the equity curve are objects under `result_prefix` in the bucket."""

    status = UnicodeAttribute()
    request_json = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    sweep_id = UnicodeAttribute(null=True)
    bars = NumberAttribute(null=True)
    metrics_json = UnicodeAttribute(null=True)
    result_prefix = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    finished_at = UTCDateTimeAttribute(null=True)


class SweepRecord(_Row):
    """A sweep: `done` and `failed` are counters its jobs add to, atomically, as each one finishes."""

    strategy_type = UnicodeAttribute()
    total = NumberAttribute()
    skipped = NumberAttribute(default=0)
    done = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)


class DatasetRecord(_Row):
    """An uploaded OHLCV dataset; the validated bars are a CSV object at `object_key`."""

    name = UnicodeAttribute()
    symbol = UnicodeAttribute()
    timeframe = UnicodeAttribute()
    bars = NumberAttribute()
    first_ms = NumberAttribute()
    last_ms = NumberAttribute()
    gaps = NumberAttribute(default=0)
    gaps_json = UnicodeAttribute(default="[]")
    object_key = UnicodeAttribute()


def get_backtest(tenant_id: str, backtest_id: str) -> BacktestRecord | None:
    if not backtest_id.startswith("bt_"):
        return None
    return get_or_none(BacktestRecord, tenant_id, backtest_id)


def get_sweep(tenant_id: str, sweep_id: str) -> SweepRecord | None:
    if not sweep_id.startswith("swp_"):
        return None
    return get_or_none(SweepRecord, tenant_id, sweep_id)


def get_dataset(tenant_id: str, dataset_id: str) -> DatasetRecord | None:
    if not dataset_id.startswith("ds_"):
        return None
    return get_or_none(DatasetRecord, tenant_id, dataset_id)


def list_backtests(tenant_id: str, *, limit: int, after: str | None) -> tuple[list[BacktestRecord], bool]:
    """Oldest first, one Query: up to `limit` backtests after sort key `after`, and whether more exist."""
    return _page(BacktestRecord, tenant_id, "bt_", limit=limit, after=after)


def sweep_members(tenant_id: str, sweep_id: str) -> list[BacktestRecord]:
    ulid = sweep_id.removeprefix("swp_")
    return list(BacktestRecord.query(tenant_id, BacktestRecord.item_id.startswith(f"bt_{ulid}_")))


def list_datasets(tenant_id: str, *, limit: int, after: str | None) -> tuple[list[DatasetRecord], bool]:
    return _page(DatasetRecord, tenant_id, "ds_", limit=limit, after=after)


RowT = TypeVar("RowT", bound=_Row)


def _page[RowT: _Row](
    model: type[RowT], tenant_id: str, prefix: str, *, limit: int, after: str | None
) -> tuple[list[RowT], bool]:
    """Rows of one kind (sort-key prefix) after `after`: a key range, so no other kind is read.
    ("~" sorts after every character an id holds.)"""
    condition: Condition = (
        model.item_id.startswith(prefix) if after is None else model.item_id.between(after, prefix + "~")
    )
    rows = [row for row in model.query(tenant_id, condition, limit=limit + 2) if row.item_id != after]
    return rows[:limit], len(rows) > limit


def start_attempt(record: BacktestRecord) -> bool:
    """Mark the job running and count the attempt; False when it already finished (a redelivery)."""
    try:
        record.update(
            actions=[BacktestRecord.status.set("running"), BacktestRecord.attempts.add(1)],
            condition=BacktestRecord.status.is_in("queued", "running"),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def finish(record: BacktestRecord, *, status: str, finished_at: datetime, **fields: Any) -> bool:
    """Record the outcome and, for a sweep member, count it on the sweep in the same transaction,
    so a job is counted exactly once however often its message is delivered. False when another
    delivery finished it first."""
    actions = [
        BacktestRecord.status.set(status),
        BacktestRecord.finished_at.set(finished_at),
        *(getattr(BacktestRecord, name).set(value) for name, value in fields.items()),
    ]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(record, actions=actions, condition=BacktestRecord.status.is_in("queued", "running"))
            if record.sweep_id is not None:
                sweep = SweepRecord(record.tenant_id, record.sweep_id)
                counters: list[Action] = [SweepRecord.done.add(1)]
                if status == "failed":
                    counters.append(SweepRecord.failed.add(1))
                tx.update(sweep, actions=counters, condition=SweepRecord.item_id.exists())
    except TransactWriteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
