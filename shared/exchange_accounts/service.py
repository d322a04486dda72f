"""Exchange account use cases: register (verify, encrypt, store), list, delete, balances and
market data."""

from __future__ import annotations

from pynamodb.transactions import TransactWrite

from shared.auth.principal import Principal
from shared.billing import entitlements
from shared.clock import isoformat, utc_now
from shared.errors import AppError, Conflict, ExchangeRejected, ExchangeTemporary, NotFound, ValidationFailed
from shared.events.data.exchange_accounts import ExchangeAccountData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.exchange.ccxt_adapter import SUPPORTED_EXCHANGES, Credentials
from shared.exchange.connect import ccxt_exchange, forget, open_exchange, public_exchange
from shared.exchange.paper import PAPER_EXCHANGE_ID
from shared.exchange_accounts.credentials import encrypt_credentials
from shared.exchange_accounts.models import (
    PAPER_ACCOUNT_ID,
    ExchangeAccountRecord,
    get_account_record,
    list_account_records,
)
from shared.exchange_accounts.schemas import (
    BalanceOut,
    BalancesOut,
    ExchangeAccountCreate,
    ExchangeAccountList,
    ExchangeAccountOut,
    MarketOut,
)
from shared.ids import new_id

SOURCE = "cryptoorchestrator.exchange_accounts"

PAPER_ACCOUNT = ExchangeAccountOut(
    id=PAPER_ACCOUNT_ID,
    exchange=PAPER_EXCHANGE_ID,
    label="Paper trading",
    sandbox=True,
    status="active",
    api_key_last4=None,
    created_at=None,
)


def _out(record: ExchangeAccountRecord) -> ExchangeAccountOut:
    return ExchangeAccountOut(
        id=record.account_id,
        exchange=record.exchange,
        label=record.label,
        sandbox=record.sandbox,
        status=record.status,
        api_key_last4=record.key_last4,
        created_at=isoformat(record.created_at),
    )


def _event_data(record: ExchangeAccountRecord) -> ExchangeAccountData:
    return ExchangeAccountData(
        account_id=record.account_id, exchange=record.exchange, label=record.label, sandbox=record.sandbox
    )


def register_account(caller: Principal, request: ExchangeAccountCreate) -> ExchangeAccountOut:
    """Verify the credentials with a real authenticated call, then store them encrypted."""
    required = SUPPORTED_EXCHANGES.get(request.exchange)
    if required is None:
        raise ValidationFailed(
            "unsupported exchange",
            code="unsupported_exchange",
            details={"exchange": request.exchange, "supported": sorted(SUPPORTED_EXCHANGES)},
        )
    if "password" in required and request.password is None:
        raise ValidationFailed(f"{request.exchange} needs the API passphrase in `password`", code="password_required")
    # Before the exchange is called: every registered account trades for real (402 on free).
    entitlements.require(entitlements.tenant_plan(caller.tenant_id), "live_exchange_accounts", 1)
    credentials = Credentials(
        api_key=request.api_key.get_secret_value(),
        secret=request.secret.get_secret_value(),
        password=request.password.get_secret_value() if request.password else None,
    )
    try:
        ccxt_exchange(request.exchange, credentials, request.sandbox).fetch_balance()
    except ExchangeRejected as exc:
        raise ValidationFailed(
            "the exchange did not accept these credentials", code="invalid_credentials", details={"reason": exc.reason}
        ) from None
    except AppError as exc:
        raise ExchangeTemporary("could not reach the exchange to verify the credentials; retry") from exc
    account_id = new_id("acct")
    record = ExchangeAccountRecord(
        tenant_id=caller.tenant_id,
        account_id=account_id,
        exchange=request.exchange,
        label=request.label,
        sandbox=request.sandbox,
        key_last4=credentials.api_key[-4:] if len(credentials.api_key) >= 12 else "****",
        credentials=encrypt_credentials(caller.tenant_id, account_id, credentials),
        created_at=utc_now(),
    )
    event = new_event("exchange_account.created", tenant_id=caller.tenant_id, source=SOURCE, data=_event_data(record))
    commit_with_events(lambda tx: tx.save(record, condition=ExchangeAccountRecord.account_id.does_not_exist()), [event])
    return _out(record)


def list_accounts(caller: Principal) -> ExchangeAccountList:
    return ExchangeAccountList(items=[PAPER_ACCOUNT, *(_out(r) for r in list_account_records(caller.tenant_id))])


def read_account(caller: Principal, account_id: str) -> ExchangeAccountOut:
    if account_id == PAPER_ACCOUNT_ID:
        return PAPER_ACCOUNT
    record = get_account_record(caller.tenant_id, account_id)
    if record is None:
        raise NotFound(
            "no such exchange account", code="exchange_account_not_found", details={"exchange_account_id": account_id}
        )
    return _out(record)


def delete_account(caller: Principal, account_id: str) -> None:
    if account_id == PAPER_ACCOUNT_ID:
        raise Conflict(
            "the built-in paper account cannot be deleted",
            code="paper_account_permanent",
            details={"exchange_account_id": account_id},
        )
    record = get_account_record(caller.tenant_id, account_id)
    if record is None:
        raise NotFound(
            "no such exchange account", code="exchange_account_not_found", details={"exchange_account_id": account_id}
        )
    event = new_event("exchange_account.deleted", tenant_id=caller.tenant_id, source=SOURCE, data=_event_data(record))

    def stage(tx: TransactWrite) -> None:
        tx.delete(record)

    commit_with_events(stage, [event])
    forget(caller.tenant_id, account_id)


def balances(caller: Principal, account_id: str) -> BalancesOut:
    exchange = open_exchange(caller.tenant_id, account_id)
    return BalancesOut(
        exchange_account_id=account_id,
        balances={
            asset: BalanceOut(free=str(b.free), used=str(b.used), total=str(b.total))
            for asset, b in exchange.fetch_balance().items()
        },
    )


def market_info(exchange_id: str, symbol: str) -> MarketOut:
    if exchange_id != PAPER_EXCHANGE_ID and exchange_id not in SUPPORTED_EXCHANGES:
        raise NotFound("unknown exchange", code="unknown_exchange", details={"exchange": exchange_id})
    exchange = public_exchange(exchange_id)
    try:
        market = exchange.market(symbol)
    except ExchangeRejected:
        raise NotFound(
            "unknown market", code="unknown_market", details={"exchange": exchange_id, "symbol": symbol}
        ) from None
    ticker = exchange.fetch_ticker(symbol)
    return MarketOut(
        exchange=exchange_id,
        symbol=symbol,
        base=market.base,
        quote=market.quote,
        last=str(ticker.last),
        bid=None if ticker.bid is None else str(ticker.bid),
        ask=None if ticker.ask is None else str(ticker.ask),
        amount_step=str(market.amount_step),
        price_step=str(market.price_step),
        min_amount=str(market.min_amount),
        max_amount=None if market.max_amount is None else str(market.max_amount),
        min_cost=str(market.min_cost),
    )
