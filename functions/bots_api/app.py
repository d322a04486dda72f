"""Bots endpoint family: CRUD and lifecycle of trading bots."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated

from fastapi import Depends, Path, Query, Response

from shared.auth.principal import Principal
from shared.bots import service
from shared.bots.activity import ActivityList
from shared.bots.lifecycle import BotAction
from shared.bots.performance import PerformanceOut
from shared.bots.responses import BotCreated, BotList, BotOut, SignalSecretOut
from shared.bots.schemas import BotCreate, BotUpdate
from shared.idempotency import register_lambda_context
from shared.web import PLAN_LIMIT_RESPONSES, create_app, idempotency_key, make_lambda_handler, require_scope

app = create_app("CryptoOrchestrator bots", "Create, configure, start and stop trading bots.")
Reader = Annotated[Principal, Depends(require_scope("read"))]
Trader = Annotated[Principal, Depends(require_scope("trade"))]
BotId = Annotated[str, Path(max_length=64, pattern=r"^bot_[0-9a-z]{26}$")]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]


@app.post("/bots", status_code=201, tags=["bots"], responses=PLAN_LIMIT_RESPONSES)
async def create_bot(body: BotCreate, caller: Trader, key: IdempotencyKey) -> BotCreated:
    """Create a bot (status `stopped`). Requires an `Idempotency-Key` header. A `signal` bot's
    answer carries its `signal_secret`, shown this once."""
    return service.create_bot(caller, body, key)


@app.get("/bots", tags=["bots"])
async def list_bots(
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> BotList:
    """The tenant's bots, oldest first, a page at a time."""
    return service.list_tenant_bots(caller, limit=limit, cursor=cursor)


@app.get("/bots/{bot_id}", tags=["bots"])
async def get_bot(bot_id: BotId, caller: Reader) -> BotOut:
    return service.read_bot(caller, bot_id)


@app.patch("/bots/{bot_id}", tags=["bots"])
async def update_bot(bot_id: BotId, body: BotUpdate, caller: Trader) -> BotOut:
    """Change name or risk limits any time; strategy, symbol and account only when not running."""
    return service.update_bot(caller, bot_id, body)


@app.delete("/bots/{bot_id}", status_code=204, tags=["bots"])
async def delete_bot(bot_id: BotId, caller: Trader) -> Response:
    """Delete a stopped bot."""
    service.delete_bot(caller, bot_id)
    return Response(status_code=204)


@app.post("/bots/{bot_id}/start", tags=["bots"], responses=PLAN_LIMIT_RESPONSES)
async def start_bot(bot_id: BotId, caller: Trader) -> BotOut:
    """Start a stopped bot or resume a paused one."""
    return service.change_status(caller, bot_id, BotAction.START)


@app.post("/bots/{bot_id}/pause", tags=["bots"])
async def pause_bot(bot_id: BotId, caller: Trader) -> BotOut:
    return service.change_status(caller, bot_id, BotAction.PAUSE)


@app.post("/bots/{bot_id}/stop", tags=["bots"])
async def stop_bot(bot_id: BotId, caller: Trader) -> BotOut:
    return service.change_status(caller, bot_id, BotAction.STOP)


@app.post("/bots/{bot_id}/signal-secret", tags=["bots"])
async def rotate_signal_secret(bot_id: BotId, caller: Trader) -> SignalSecretOut:
    """Replace a signal bot's secret; the new one is in this answer only, the old one stops working."""
    return service.rotate_signal_secret(caller, bot_id)


@app.get("/bots/{bot_id}/activity", tags=["bots"])
async def bot_activity(
    bot_id: BotId,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ActivityList:
    """What the bot did, newest first: each tick's decision (bar, indicator values, wanted
    position, orders placed or why none), market data gaps, risk rejections, signals."""
    return service.bot_activity(caller, bot_id, limit=limit, cursor=cursor)


@app.get("/bots/{bot_id}/performance", tags=["bots"])
async def bot_performance(bot_id: BotId, caller: Reader) -> PerformanceOut:
    """Realized and unrealized PnL, fees, trades and win rate of the bot."""
    return service.performance_of(caller, bot_id)


lambda_handler = make_lambda_handler(app, on_invoke=register_lambda_context)


init_phase.complete()
