"""Backtest and sweep use cases behind the API: queue, read, list, page results, rank.

A job is written as a `queued` row first, then sent to the queue; the worker does the rest. Another
tenant's backtest, sweep or dataset answers exactly like a missing one (404).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from shared.auth.principal import Principal
from shared.backtest import jobs, records, storage
from shared.backtest.records import BacktestRecord, SweepRecord
from shared.backtest.requests import (
    TIMEFRAME_MS,
    BacktestCreate,
    BacktestSettings,
    DatasetSource,
    ExchangeSource,
    MetricName,
    SweepCreate,
    SyntheticSource,
    epoch_ms,
)
from shared.backtest.responses import (
    BacktestAccepted,
    BacktestList,
    BacktestOut,
    EquityCurve,
    RankedBacktest,
    SweepAccepted,
    SweepOut,
    TradesPage,
)
from shared.billing import entitlements
from shared.clock import isoformat, utc_now
from shared.errors import NotFound, ValidationFailed
from shared.idempotency import run_once
from shared.ids import new_ulid
from shared.pagination import decode_cursor, encode_cursor

SYNTHETIC_EPOCH_MS = 1_262_304_000_000  # shared.backtest.synthetic.EPOCH_MS (a test keeps them equal; no numpy here)
# Metrics where smaller is better: ranked ascending unless the caller says otherwise.
ASCENDING_METRICS = frozenset({"max_drawdown", "fees_paid"})


def _not_found(kind: str, item_id: str) -> NotFound:
    return NotFound(f"no such {kind}", details={"id": item_id})


def _check_source(tenant_id: str, request: BacktestSettings) -> None:
    """What the request model cannot check without I/O: the data source exists and covers the range."""
    source = request.data_source
    if isinstance(source, SyntheticSource) and epoch_ms(request.start) < SYNTHETIC_EPOCH_MS:
        raise ValidationFailed("synthetic candles start on 2010-01-01", details={"field": "start"})
    if isinstance(source, ExchangeSource):
        from shared.exchange.ccxt_adapter import SUPPORTED_EXCHANGES  # the list only: ccxt loads in the worker

        if source.exchange not in SUPPORTED_EXCHANGES:
            raise ValidationFailed(
                f"no exchange {source.exchange!r} for history; supported: {', '.join(sorted(SUPPORTED_EXCHANGES))}",
                code="data_source_unavailable",
                details={"field": "data_source"},
            )
        if epoch_ms(request.start) >= int(utc_now().timestamp() * 1000):
            raise ValidationFailed(
                "exchange history starts in the past: the range lies in the future", details={"field": "start"}
            )
    if isinstance(source, DatasetSource):
        dataset = records.get_dataset(tenant_id, source.dataset_id)
        if dataset is None:
            raise _not_found("dataset", source.dataset_id)
        if dataset.timeframe != request.timeframe or dataset.symbol != request.symbol:
            raise ValidationFailed(
                f"the dataset holds {dataset.symbol} {dataset.timeframe} bars; the request asks for "
                f"{request.symbol} {request.timeframe}",
                details={"field": "data_source"},
            )
        last_end = int(dataset.last_ms) + TIMEFRAME_MS[dataset.timeframe]
        if epoch_ms(request.end) <= int(dataset.first_ms) or epoch_ms(request.start) >= last_end:
            raise ValidationFailed(
                "the dataset holds no bars in the requested range",
                details={"dataset_first_ms": int(dataset.first_ms), "dataset_last_ms": int(dataset.last_ms)},
            )


def _row(tenant_id: str, backtest_id: str, request: BacktestCreate, sweep_id: str | None) -> BacktestRecord:
    return BacktestRecord(
        tenant_id=tenant_id,
        item_id=backtest_id,
        created_at=utc_now(),
        status="queued",
        request_json=request.model_dump_json(by_alias=True),
        sweep_id=sweep_id,
        attempts=0,
    )


def create_backtest(caller: Principal, request: BacktestCreate, idempotency_key: str) -> BacktestAccepted:
    """Queue one backtest, at most once per Idempotency-Key."""

    def create() -> dict[str, Any]:
        _check_source(caller.tenant_id, request)
        # Counted when accepted (402 past the month's allowance), given back only if we never queue it.
        counter = entitlements.reserve_backtests(caller.tenant_id, entitlements.tenant_plan(caller.tenant_id), 1)
        record = _row(caller.tenant_id, f"bt_{new_ulid()}", request, None)
        try:
            record.save(condition=BacktestRecord.item_id.does_not_exist())
        except Exception:
            entitlements.refund_backtests(caller.tenant_id, counter, 1)
            raise
        # If the job cannot be sent, nothing will run it: delete the row rather than leave it queued forever.
        try:
            unsent = jobs.enqueue([jobs.BacktestJob(tenant_id=caller.tenant_id, backtest_id=record.item_id)])
        except Exception:
            record.delete()
            entitlements.refund_backtests(caller.tenant_id, counter, 1)
            raise
        if unsent:
            record.delete()
            entitlements.refund_backtests(caller.tenant_id, counter, 1)
            raise jobs.queue_refused(1)
        return BacktestAccepted(id=record.item_id, status="queued").model_dump(mode="json")

    result = run_once(
        "backtests.create",
        tenant_id=caller.tenant_id,
        idempotency_key=idempotency_key,
        payload=request.model_dump(mode="json", by_alias=True),
        action=create,
    )
    return BacktestAccepted.model_validate(result)


def create_sweep(caller: Principal, request: SweepCreate, idempotency_key: str) -> SweepAccepted:
    """One queued backtest per valid grid combination, sent ten to a SendMessageBatch."""

    def create() -> dict[str, Any]:
        combinations, skipped = request.combinations()
        if not combinations:
            raise ValidationFailed(
                f"every one of the {skipped} grid combinations fails the strategy's parameter rules",
                code="empty_sweep",
            )
        _check_source(caller.tenant_id, request)
        plan = entitlements.tenant_plan(caller.tenant_id)
        entitlements.require_sweep_size(plan, len(combinations))
        # Every combination is a backtest of the month's allowance, counted before anything is written.
        counter = entitlements.reserve_backtests(caller.tenant_id, plan, len(combinations))
        ulid = new_ulid()
        sweep_id = f"swp_{ulid}"
        settings = request.model_dump(by_alias=True, exclude={"grid", "strategy"})
        rows = [
            _row(
                caller.tenant_id,
                f"bt_{ulid}_{index:04d}",
                BacktestCreate.model_validate(
                    {**settings, "strategy": {"type": request.strategy.type, "params": params}}
                ),
                sweep_id,
            )
            for index, params in enumerate(combinations)
        ]
        sweep = SweepRecord(
            tenant_id=caller.tenant_id,
            item_id=sweep_id,
            created_at=utc_now(),
            strategy_type=request.strategy.type,
            total=len(rows),
            skipped=skipped,
            done=0,
            failed=0,
        )
        try:
            sweep.save(condition=SweepRecord.item_id.does_not_exist())
            with BacktestRecord.batch_write() as batch:
                for row in rows:
                    batch.save(row)
        except Exception:
            entitlements.refund_backtests(caller.tenant_id, counter, len(rows))
            raise
        unsent = jobs.enqueue([jobs.BacktestJob(tenant_id=caller.tenant_id, backtest_id=row.item_id) for row in rows])
        if unsent:
            entitlements.refund_backtests(caller.tenant_id, counter, len(unsent))
            # What was sent runs; what was not is failed and counted, so the sweep still completes.
            by_id = {row.item_id: row for row in rows}
            for job in unsent:
                records.finish(by_id[job.backtest_id], status="failed", finished_at=utc_now(), reason="not queued")
            raise jobs.queue_refused(len(unsent))
        return SweepAccepted(
            id=sweep_id, total=len(rows), skipped=skipped, backtest_ids=[row.item_id for row in rows]
        ).model_dump(mode="json")

    result = run_once(
        "backtests.sweep",
        tenant_id=caller.tenant_id,
        idempotency_key=idempotency_key,
        payload=request.model_dump(mode="json", by_alias=True),
        action=create,
    )
    return SweepAccepted.model_validate(result)


def to_out(record: BacktestRecord) -> BacktestOut:
    return BacktestOut(
        id=record.item_id,
        status=record.status,
        reason=record.reason,
        sweep_id=record.sweep_id,
        request=json.loads(record.request_json),
        bars=None if record.bars is None else int(record.bars),
        metrics=None if record.metrics_json is None else json.loads(record.metrics_json),
        created_at=isoformat(record.created_at),
        finished_at=None if record.finished_at is None else isoformat(record.finished_at),
    )


def _backtest(caller: Principal, backtest_id: str) -> BacktestRecord:
    record = records.get_backtest(caller.tenant_id, backtest_id)
    if record is None:
        raise _not_found("backtest", backtest_id)
    return record


def read_backtest(caller: Principal, backtest_id: str) -> BacktestOut:
    return to_out(_backtest(caller, backtest_id))


def list_backtests(caller: Principal, *, limit: int, cursor: str | None) -> BacktestList:
    after = decode_cursor("backtests", cursor) if cursor else None
    rows, more = records.list_backtests(caller.tenant_id, limit=limit, after=after)
    next_cursor = encode_cursor("backtests", rows[-1].item_id) if more and rows else None
    return BacktestList(items=[to_out(row) for row in rows], next_cursor=next_cursor)


def _results(caller: Principal, backtest_id: str) -> str:
    record = _backtest(caller, backtest_id)
    if record.status != "succeeded" or record.result_prefix is None:
        raise ValidationFailed(
            f"the backtest is {record.status}: results exist once it has succeeded",
            code="results_not_ready",
            details={"status": record.status},
        )
    return record.result_prefix


def trades_page(caller: Principal, backtest_id: str, *, limit: int, cursor: str | None) -> TradesPage:
    """Trades in time order; the cursor is the index of the next trade."""
    columns = storage.read_trades(_results(caller, backtest_id))
    start = int(decode_cursor("trades", cursor)) if cursor else 0
    names = list(columns)
    total = len(columns[names[0]]) if names else 0
    stop = min(start + limit, total)
    items = [{name: columns[name][i] for name in names} for i in range(start, stop)]
    return TradesPage(
        items=items, total=total, next_cursor=encode_cursor("trades", str(stop)) if stop < total else None
    )


def equity_curve(caller: Principal, backtest_id: str, *, points: int) -> EquityCurve:
    """The curve at no more than `points` evenly spaced bars, first and last included."""
    import numpy as np

    timestamps, equity = storage.read_equity(_results(caller, backtest_id))
    n = int(equity.shape[0])
    picks = np.unique(np.linspace(0, n - 1, num=min(points, n)).round().astype(np.int64))
    return EquityCurve(
        bars=n, points=int(picks.shape[0]), timestamps=timestamps[picks].tolist(), equity=equity[picks].tolist()
    )


def read_sweep(
    caller: Principal,
    sweep_id: str,
    *,
    rank_by: MetricName,
    order: Literal["asc", "desc"] | None,
    limit: int,
) -> SweepOut:
    """Progress from the sweep's counters; the ranking from its finished members' metrics (members
    without the metric, unfinished or failed, come last)."""
    sweep = records.get_sweep(caller.tenant_id, sweep_id)
    if sweep is None:
        raise _not_found("sweep", sweep_id)
    ascending = (order or ("asc" if rank_by in ASCENDING_METRICS else "desc")) == "asc"
    ranked: list[tuple[float, RankedBacktest]] = []
    for member in records.sweep_members(caller.tenant_id, sweep_id):
        metrics = json.loads(member.metrics_json) if member.metrics_json else {}
        raw = metrics.get(rank_by)
        value = float(raw) if isinstance(raw, int | float) and math.isfinite(raw) else None
        key = math.inf if value is None else (value if ascending else -value)
        params = json.loads(member.request_json)["strategy"]["params"]
        ranked.append((key, RankedBacktest(id=member.item_id, status=member.status, params=params, value=value)))
    ranked.sort(key=lambda pair: (pair[0], pair[1].id))
    total, done = int(sweep.total), int(sweep.done or 0)
    return SweepOut(
        id=sweep.item_id,
        status="completed" if done >= total else "running",
        total=total,
        done=done,
        failed=int(sweep.failed or 0),
        skipped=int(sweep.skipped or 0),
        strategy=sweep.strategy_type,
        rank_by=rank_by,
        ranking=[entry for _, entry in ranked[:limit]],
        created_at=isoformat(sweep.created_at),
    )
