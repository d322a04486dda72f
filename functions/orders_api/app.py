"""Orders endpoint family: manual orders, positions with PnL, risk settings and kill switch."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated

from fastapi import Depends, Path, Query

from shared.auth.principal import Principal
from shared.idempotency import register_lambda_context
from shared.orders import service
from shared.orders.schemas import OrderCreate, OrderList, OrderOut, PositionList
from shared.positions import view as positions_view
from shared.risk import service as risk
from shared.risk.schemas import KillSwitchOut, KillSwitchRequest, RiskSettings, RiskSettingsOut
from shared.web import create_app, idempotency_key, make_lambda_handler, require_scope

app = create_app("CryptoOrchestrator orders", "Orders, positions and risk controls.")
Reader = Annotated[Principal, Depends(require_scope("read"))]
Trader = Annotated[Principal, Depends(require_scope("trade"))]
OrderId = Annotated[str, Path(max_length=64, pattern=r"^ord_[0-9a-z]{26}$")]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]


@app.post("/orders", status_code=202, tags=["orders"])
async def place_order(body: OrderCreate, caller: Trader, key: IdempotencyKey) -> OrderOut:
    """Validate against the market, record the order (`PENDING_SUBMIT`) and queue it. The
    exchange is called by the trade worker; follow the order with GET or domain events.
    Requires an `Idempotency-Key` header."""
    return service.place_order(caller, body, key)


@app.get("/orders", tags=["orders"])
async def list_orders(
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OrderList:
    """Newest first."""
    return service.list_tenant_orders(caller, limit=limit, cursor=cursor)


@app.get("/orders/{order_id}", tags=["orders"])
async def read_order(order_id: OrderId, caller: Reader) -> OrderOut:
    return service.read_order(caller, order_id)


@app.post("/orders/{order_id}/cancel", status_code=202, tags=["orders"])
async def cancel_order(order_id: OrderId, caller: Trader) -> OrderOut:
    """Cancel: at once if not yet sent, otherwise on the exchange (what filled stays filled)."""
    return service.cancel_order(caller, order_id)


@app.get("/positions", tags=["positions"])
async def positions(caller: Reader) -> PositionList:
    """Positions per account, symbol and bot, with realized and unrealized PnL."""
    return positions_view.positions(caller)


@app.get("/risk/settings", tags=["risk"])
async def read_risk_settings(caller: Reader) -> RiskSettingsOut:
    return risk.read_settings(caller)


@app.put("/risk/settings", tags=["risk"])
async def update_risk_settings(body: RiskSettings, caller: Trader) -> RiskSettingsOut:
    return risk.update_settings(caller, body)


@app.post("/risk/kill-switch", tags=["risk"])
async def kill_switch(caller: Trader, body: KillSwitchRequest | None = None) -> KillSwitchOut:
    """Engage (default) to stop all bots, cancel open orders and reject new ones; send
    `{"engaged": false}` to release."""
    return risk.set_kill_switch(caller, True if body is None else body.engaged)


lambda_handler = make_lambda_handler(app, on_invoke=register_lambda_context)


init_phase.complete()
