"""Backtests endpoint family: backtest jobs, parameter sweeps and the market data they run on."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request, Response

from shared.auth.principal import Principal
from shared.backtest import service
from shared.backtest.requests import BacktestCreate, MetricName, SweepCreate
from shared.backtest.responses import (
    BacktestAccepted,
    BacktestList,
    BacktestOut,
    EquityCurve,
    SweepAccepted,
    SweepOut,
    TradesPage,
)
from shared.idempotency import register_lambda_context
from shared.inputs import Name
from shared.market_data import service as market_data
from shared.market_data.service import DatasetList, DatasetMeta, DatasetOut, UploadOut
from shared.strategies.quantities import Timeframe
from shared.web import PLAN_LIMIT_RESPONSES, create_app, idempotency_key, make_lambda_handler, require_scope

app = create_app("CryptoOrchestrator backtests", "Backtests, parameter sweeps and uploaded market data.")
Reader = Annotated[Principal, Depends(require_scope("read"))]
Trader = Annotated[Principal, Depends(require_scope("trade"))]
BacktestId = Annotated[str, Path(max_length=64, pattern=r"^bt_[0-9a-z]{26}(_[0-9]{4})?$")]
SweepId = Annotated[str, Path(max_length=64, pattern=r"^swp_[0-9a-z]{26}$")]
DatasetId = Annotated[str, Path(max_length=64, pattern=r"^ds_[0-9a-z]{26}$")]
UploadId = Annotated[str, Path(max_length=64, pattern=r"^up_[0-9a-z]{26}$")]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


@app.post("/backtests/sweeps", status_code=202, tags=["backtests"], responses=PLAN_LIMIT_RESPONSES)
async def create_sweep(body: SweepCreate, caller: Trader, key: IdempotencyKey) -> SweepAccepted:
    """One backtest per combination of the parameter grid, run in parallel. Combinations the
    strategy refuses (e.g. fast >= slow) are skipped and counted. Requires an `Idempotency-Key`."""
    return service.create_sweep(caller, body, key)


@app.get("/backtests/sweeps/{sweep_id}", tags=["backtests"])
async def read_sweep(
    sweep_id: SweepId,
    caller: Reader,
    rank_by: MetricName = "sharpe",
    order: Literal["asc", "desc"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> SweepOut:
    """Progress (done/total) and the members ranked by a metric (descending, except max_drawdown
    and fees_paid, unless `order` says otherwise)."""
    return service.read_sweep(caller, sweep_id, rank_by=rank_by, order=order, limit=limit)


@app.post("/backtests", status_code=202, tags=["backtests"], responses=PLAN_LIMIT_RESPONSES)
async def create_backtest(body: BacktestCreate, caller: Trader, key: IdempotencyKey) -> BacktestAccepted:
    """Queue a backtest; follow it with GET /backtests/{id}. Requires an `Idempotency-Key` header."""
    return service.create_backtest(caller, body, key)


@app.get("/backtests", tags=["backtests"])
async def list_backtests(caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> BacktestList:
    """Oldest first, a page at a time (a sweep's members included)."""
    return service.list_backtests(caller, limit=limit, cursor=cursor)


@app.get("/backtests/{backtest_id}", tags=["backtests"])
async def read_backtest(backtest_id: BacktestId, caller: Reader) -> BacktestOut:
    return service.read_backtest(caller, backtest_id)


@app.get("/backtests/{backtest_id}/trades", tags=["backtests"])
async def read_trades(backtest_id: BacktestId, caller: Reader, limit: Limit = 100, cursor: Cursor = None) -> TradesPage:
    return service.trades_page(caller, backtest_id, limit=limit, cursor=cursor)


@app.get("/backtests/{backtest_id}/equity", tags=["backtests"])
async def read_equity(
    backtest_id: BacktestId, caller: Reader, points: Annotated[int, Query(ge=2, le=10_000)] = 1000
) -> EquityCurve:
    """The bar-close equity curve at no more than `points` evenly spaced bars."""
    return service.equity_curve(caller, backtest_id, points=points)


CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@app.post("/market-data", status_code=201, tags=["market data"], openapi_extra=CSV_BODY)
async def upload_market_data(
    request: Request,
    caller: Trader,
    name: Annotated[Name, Query()],
    symbol: Annotated[str, Query(min_length=3, max_length=32, pattern=r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}$")],
    timeframe: Timeframe | None = None,
) -> DatasetOut:
    """Upload an OHLCV CSV as the request body (`Content-Type: text/csv`, up to the API's body
    limit); larger files go through POST /market-data/uploads."""
    meta = DatasetMeta(name=name, symbol=symbol, timeframe=timeframe)
    return market_data.upload_csv(caller, await request.body(), meta)


@app.post("/market-data/uploads", status_code=201, tags=["market data"])
async def start_upload(caller: Trader) -> UploadOut:
    """A presigned S3 POST for a CSV larger than the API's body limit."""
    return market_data.start_upload(caller)


@app.post("/market-data/uploads/{upload_id}/complete", status_code=201, tags=["market data"])
async def complete_upload(upload_id: UploadId, body: DatasetMeta, caller: Trader) -> DatasetOut:
    """Validate the uploaded file and register it as a dataset."""
    return market_data.complete_upload(caller, upload_id, body)


@app.get("/market-data", tags=["market data"])
async def list_market_data(caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> DatasetList:
    return market_data.list_datasets(caller, limit=limit, cursor=cursor)


@app.get("/market-data/{dataset_id}", tags=["market data"])
async def read_market_data(dataset_id: DatasetId, caller: Reader) -> DatasetOut:
    return market_data.read_dataset(caller, dataset_id)


@app.delete("/market-data/{dataset_id}", status_code=204, tags=["market data"])
async def delete_market_data(dataset_id: DatasetId, caller: Trader) -> Response:
    market_data.delete_dataset(caller, dataset_id)
    return Response(status_code=204)


lambda_handler = make_lambda_handler(app, on_invoke=register_lambda_context)


init_phase.complete()
