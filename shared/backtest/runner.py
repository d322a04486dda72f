"""Runs one queued backtest job: load the candles, evaluate the strategy, simulate, store.

What is permanent and what is retried: a request the data cannot satisfy (no bars in the range, a
dataset that fails the engine's checks) fails the job with that reason at once. Anything else
(S3 or DynamoDB trouble) is raised, so the message returns to the queue; a job that has been
started MAX_ATTEMPTS times without finishing (out of time or memory each time: the engine is
deterministic, so another try would not help) is failed on its next delivery instead of running.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from shared.backtest import records, storage
from shared.backtest.candles import Candles
from shared.backtest.config import BacktestConfig
from shared.backtest.engine import run_backtest
from shared.backtest.jobs import BacktestJob
from shared.backtest.requests import (
    TIMEFRAME_MS,
    BacktestCreate,
    DatasetSource,
    ExchangeSource,
    SyntheticSource,
    epoch_ms,
)
from shared.backtest.results import Trades
from shared.clock import utc_now
from shared.errors import ValidationFailed
from shared.observability import logger

MAX_ATTEMPTS = 3
# The queue's maxReceiveCount: on the last delivery a failure is recorded instead of raised.
LAST_RECEIVE = 5


def run_job(job: BacktestJob, *, receive_count: int = 1) -> str:
    """Process one delivery of `job`; returns what happened (for the log)."""
    record = records.get_backtest(job.tenant_id, job.backtest_id)
    if record is None or record.status in records.TERMINAL:
        return "skipped"
    if int(record.attempts or 0) >= MAX_ATTEMPTS:
        records.finish(
            record,
            status="failed",
            finished_at=utc_now(),
            reason=f"the backtest did not finish in {MAX_ATTEMPTS} attempts (out of time or memory)",
        )
        return "failed"
    if not records.start_attempt(record):
        return "skipped"
    try:
        request = BacktestCreate.model_validate_json(record.request_json)
        candles = load_candles(job.tenant_id, request)
        prefix = storage.result_prefix(job.tenant_id, job.backtest_id)
        metrics = simulate_and_store(request, candles, prefix)
    except ValidationFailed as exc:
        records.finish(record, status="failed", finished_at=utc_now(), reason=exc.message)
        return "failed"
    except Exception:
        if receive_count >= LAST_RECEIVE:
            records.finish(record, status="failed", finished_at=utc_now(), reason="internal error")
            logger.exception("backtest failed on its last delivery")
            return "failed"
        raise
    records.finish(
        record,
        status="succeeded",
        finished_at=utc_now(),
        bars=len(candles),
        metrics_json=json.dumps(metrics, allow_nan=False),
        result_prefix=prefix,
    )
    return "succeeded"


def load_candles(tenant_id: str, request: BacktestCreate) -> Candles:
    """The request's bars from its data source, validated by the engine's candle checks."""
    start_ms, end_ms = epoch_ms(request.start), epoch_ms(request.end)
    source = request.data_source
    if isinstance(source, SyntheticSource):
        from shared.backtest.synthetic import synthetic_candles

        return synthetic_candles(request.symbol, request.timeframe, start_ms, end_ms, seed=source.seed)
    if isinstance(source, DatasetSource):
        dataset = records.get_dataset(tenant_id, source.dataset_id)
        if dataset is None:
            raise ValidationFailed("the dataset was deleted before the backtest ran")
        return dataset_candles(storage.read_bytes(dataset.object_key), start_ms, end_ms)
    if not isinstance(source, ExchangeSource):  # the request model's union has no other member
        raise ValidationFailed(f"unknown data source {source!r}")
    return exchange_candles(source.exchange, request.symbol, request.timeframe, start_ms, end_ms)


def exchange_candles(exchange_id: str, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Candles:
    """The range's closed bars from the exchange's public history (paged through ccxt), kept in the
    data bucket once the whole range has closed, so the other jobs of a sweep read them from there."""
    import time

    from shared.market_data.history import exchange_history

    key = storage.history_key(exchange_id, symbol, timeframe, start_ms, end_ms)
    stored = storage.read_history(key)
    if stored is not None:
        times, table = stored
    else:
        now_ms = int(time.time() * 1000)
        rows = exchange_history(exchange_id, symbol, timeframe, start_ms, end_ms, now_ms=now_ms)
        if not rows:
            raise ValidationFailed(f"{exchange_id} returned no closed {symbol} {timeframe} bars in the requested range")
        table = np.array(
            [[float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)] for c in rows],
            dtype=np.float64,
        )
        times = np.array([c.timestamp_ms for c in rows], dtype=np.int64)
        if end_ms + TIMEFRAME_MS[timeframe] <= now_ms:  # every bar of the range had closed: it cannot change
            storage.write_history(key, times, table)
    return Candles.from_arrays(times, table[:, 0], table[:, 1], table[:, 2], table[:, 3], table[:, 4])


def dataset_candles(csv_bytes: bytes, start_ms: int, end_ms: int) -> Candles:
    """Bars of a stored dataset (validated at upload) whose open time is in [start_ms, end_ms)."""
    import io

    table = np.loadtxt(io.BytesIO(csv_bytes), delimiter=",", dtype=np.float64, ndmin=2)
    timestamps = table[:, 0].astype(np.int64)
    first, stop = np.searchsorted(timestamps, [start_ms, end_ms])
    if stop <= first:
        raise ValidationFailed("the dataset holds no bars in the requested range")
    rows = table[first:stop]
    return Candles.from_arrays(timestamps[first:stop], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5])


def engine_config(request: BacktestCreate) -> BacktestConfig:
    sizing = request.sizing
    return BacktestConfig(
        starting_cash=request.starting_cash,
        fee_rate=request.fee_rate,
        slippage_rate=request.slippage_rate,
        sizing=sizing.mode,
        fixed_notional=getattr(sizing, "notional", None),
        equity_pct=getattr(sizing, "percent", None),
        stop_loss_pct=request.stop_loss_pct,
        take_profit_pct=request.take_profit_pct,
    )


def simulate_and_store(request: BacktestCreate, candles: Candles, prefix: str) -> dict[str, Any]:
    """Evaluate the strategy on every bar, simulate, write trades and equity; returns the metrics."""
    from shared.backtest.requests import validate_params
    from shared.strategies.candles import Candles as StrategyCandles
    from shared.strategies.registry import STRATEGIES, IndicatorStrategy, SteppedStrategy

    strategy = STRATEGIES[request.strategy.type]
    params: Any = validate_params(request.strategy.type, request.strategy.params, request.timeframe)
    bar_ms = TIMEFRAME_MS[request.timeframe]
    if isinstance(strategy, SteppedStrategy):
        from shared.backtest.stepped import run_stepped_backtest

        result, _ = run_stepped_backtest(candles, strategy, params, engine_config(request), bar_ms=bar_ms)
    elif isinstance(strategy, IndicatorStrategy):
        view = StrategyCandles(
            candles.timestamps, candles.open, candles.high, candles.low, candles.close, candles.volume
        )
        target = strategy.target_positions(view, params)
        result = run_backtest(candles, target, engine_config(request), bar_ms=bar_ms)
    else:  # the request model admits only these
        raise ValidationFailed(f"strategy {strategy.name!r} cannot be backtested")
    storage.write_results(prefix, trade_columns(result.trades, candles.timestamps), candles.timestamps, result.equity)
    return result.metrics.as_dict()


def trade_columns(trades: Trades, timestamps: np.ndarray[Any, np.dtype[np.int64]]) -> dict[str, list[Any]]:
    """The trades as JSON columns (one list per field), with the bar open times of entry and exit."""
    return {
        "entry_time_ms": timestamps[trades.entry_bar].tolist(),
        "exit_bar_time_ms": timestamps[trades.exit_bar].tolist(),
        "entry_bar": trades.entry_bar.tolist(),
        "exit_bar": trades.exit_bar.tolist(),
        "entry_price": trades.entry_price.tolist(),
        "exit_price": trades.exit_price.tolist(),
        "qty": trades.qty.tolist(),
        "fees": trades.fees.tolist(),
        "pnl": trades.pnl.tolist(),
        "exit_reason": list(trades.exit_reasons()),
        "bars_held": trades.bars_held.tolist(),
    }
