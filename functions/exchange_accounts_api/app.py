"""Exchange accounts endpoint family: register, list, delete accounts; balances; market data."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated

from fastapi import Depends, Path, Response

from shared.auth.principal import Principal
from shared.exchange_accounts import service
from shared.exchange_accounts.schemas import (
    BalancesOut,
    ExchangeAccountCreate,
    ExchangeAccountList,
    ExchangeAccountOut,
    MarketOut,
)
from shared.web import PLAN_LIMIT_RESPONSES, create_app, make_lambda_handler, require_scope

app = create_app("CryptoOrchestrator exchange accounts", "Exchange credentials, balances and market data.")
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
AccountId = Annotated[str, Path(max_length=64, pattern=r"^(paper|acct_[0-9a-z]{26})$")]
ExchangeId = Annotated[str, Path(max_length=32, pattern=r"^[a-z0-9]+$")]
MarketSymbol = Annotated[
    str, Path(max_length=32, pattern=r"^[A-Z0-9]{1,12}[-_][A-Z0-9]{1,12}$", description="BASE-QUOTE, e.g. BTC-USDT")
]


@app.post("/exchange-accounts", status_code=201, tags=["exchange accounts"], responses=PLAN_LIMIT_RESPONSES)
async def register_account(body: ExchangeAccountCreate, caller: Admin) -> ExchangeAccountOut:
    """Verify the credentials with an authenticated call, then store them encrypted. They are
    never returned; responses show the last four characters of the key only."""
    return service.register_account(caller, body)


@app.get("/exchange-accounts", tags=["exchange accounts"])
async def list_accounts(caller: Reader) -> ExchangeAccountList:
    """The tenant's accounts, starting with the built-in `paper` account."""
    return service.list_accounts(caller)


@app.get("/exchange-accounts/{account_id}", tags=["exchange accounts"])
async def read_account(account_id: AccountId, caller: Reader) -> ExchangeAccountOut:
    return service.read_account(caller, account_id)


@app.delete("/exchange-accounts/{account_id}", status_code=204, tags=["exchange accounts"])
async def delete_account(account_id: AccountId, caller: Admin) -> Response:
    service.delete_account(caller, account_id)
    return Response(status_code=204)


@app.get("/exchange-accounts/{account_id}/balances", tags=["exchange accounts"])
async def balances(account_id: AccountId, caller: Reader) -> BalancesOut:
    return service.balances(caller, account_id)


@app.get("/markets/{exchange}/{symbol}", tags=["markets"])
async def market(exchange: ExchangeId, symbol: MarketSymbol, caller: Reader) -> MarketOut:
    """Ticker and trading rules (steps, minimums) of a market; `paper` for the paper exchange."""
    return service.market_info(exchange, symbol.replace("-", "/").replace("_", "/"))


lambda_handler = make_lambda_handler(app)


init_phase.complete()
