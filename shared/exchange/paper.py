"""The paper exchange: the Exchange interface, with balances and orders in DynamoDB (the
PaperAccounts table, shared.exchange.models) so it behaves the same across Lambda invocations.

Market orders fill at once at the current price plus slippage (taker fee); limit orders reserve
funds and fill, at their limit price (maker fee), once the market crosses them, which is checked
whenever the order is looked at (fetch, list, cancel) and when it is placed. Fees are charged in
the quote currency. Balances and orders change together in one version-checked transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pynamodb.exceptions import TransactWriteError

from shared.config import get_settings
from shared.errors import ExchangeOrderNotFound, ExchangeRejected, ExchangeTemporary
from shared.exchange.models import (
    PaperRecord,
    balance_rows,
    create_balances,
    open_order_ids,
    order_and_balances,
    order_row,
    save_together,
)
from shared.exchange.prices import PriceSource, price_source_from_setting
from shared.exchange.protocol import (
    AssetBalance,
    Candle,
    ExchangeOrder,
    ExchangeOrderStatus,
    Market,
    OrderRequest,
    Ticker,
)
from shared.market_data.markets import TIMEFRAME_MS

MARKETS_PATH = Path(__file__).with_name("data") / "paper_markets.json"
PAPER_EXCHANGE_ID = "paper"
_WRITE_ATTEMPTS = 5


@lru_cache(maxsize=1)
def paper_markets() -> dict[str, Market]:
    raw = json.loads(MARKETS_PATH.read_text())
    return {
        symbol: Market(
            symbol=symbol,
            base=m["base"],
            quote=m["quote"],
            amount_step=Decimal(m["amount_step"]),
            price_step=Decimal(m["price_step"]),
            min_amount=Decimal(m["min_amount"]),
            max_amount=None,
            min_cost=Decimal(m["min_cost"]),
        )
        for symbol, m in raw.items()
    }


@lru_cache(maxsize=1)
def default_price_source() -> PriceSource:
    raw = json.loads(MARKETS_PATH.read_text())
    return price_source_from_setting(
        get_settings().paper_price_source, {s: Decimal(m["base_price"]) for s, m in raw.items()}
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _reject(reason: str, message: str) -> ExchangeRejected:
    return ExchangeRejected(f"paper exchange: {message}", reason=reason)


class PaperExchange:
    """A tenant's paper account."""

    exchange_id = PAPER_EXCHANGE_ID

    def __init__(
        self, tenant_id: str, prices: PriceSource | None = None, clock_ms: Callable[[], int] = _now_ms
    ) -> None:
        self.tenant_id = tenant_id
        self.prices = prices or default_price_source()
        self.clock_ms = clock_ms
        settings = get_settings()
        self.taker_fee = settings.paper_taker_fee
        self.maker_fee = settings.paper_maker_fee
        self.slippage = settings.paper_slippage

    # ------------------------------------------------------------------ market data
    def markets(self) -> dict[str, Market]:
        return paper_markets()

    def market(self, symbol: str) -> Market:
        market = paper_markets().get(symbol)
        if market is None:
            raise _reject("bad_symbol", f"no market {symbol}")
        return market

    def _price(self, symbol: str, at_ms: int | None = None) -> Decimal:
        market = self.market(symbol)
        raw = self.prices.price(symbol, self.clock_ms() if at_ms is None else at_ms)
        return raw.quantize(market.price_step, rounding=ROUND_DOWN) if market.price_step else raw

    def fetch_ticker(self, symbol: str) -> Ticker:
        last = self._price(symbol)
        step = self.market(symbol).price_step or Decimal("0.01")
        return Ticker(symbol=symbol, last=last, bid=last - step, ask=last + step, timestamp_ms=self.clock_ms())

    def fetch_ohlcv(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        span = TIMEFRAME_MS[timeframe]
        end = self.clock_ms() // span * span
        candles = []
        for start in range(end - (limit - 1) * span, end + 1, span):
            samples = [self._price(symbol, start + i * span // 4) for i in range(5)]
            candles.append(Candle(start, samples[0], max(samples), min(samples), samples[-1], Decimal(0)))
        return candles

    # ------------------------------------------------------------------ balances
    def _starting_balances(self) -> dict[str, Decimal]:
        result = {}
        for part in get_settings().paper_starting_balances.split(","):
            asset, _, amount = part.partition("=")
            if asset.strip():
                result[asset.strip().upper()] = Decimal(amount.strip())
        return result

    def _balance_rows(self) -> dict[str, PaperRecord]:
        rows = balance_rows(self.tenant_id)
        if rows:
            return rows
        starting = self._starting_balances().items()
        create_balances(
            self.tenant_id, {asset: json.dumps({"free": str(amount), "used": "0"}) for asset, amount in starting}
        )
        return balance_rows(self.tenant_id)

    def fetch_balance(self) -> dict[str, AssetBalance]:
        self.fetch_open_orders()  # let resting orders fill first, as a real exchange would have
        result = {}
        for asset, row in sorted(self._balance_rows().items()):
            data = row.payload()
            balance = AssetBalance(Decimal(data["free"]), Decimal(data["used"]))
            if balance.total:
                result[asset] = balance
        return result

    # ------------------------------------------------------------------ orders
    def _order_row(self, client_order_id: str) -> PaperRecord | None:
        return order_row(self.tenant_id, client_order_id)

    @staticmethod
    def _to_order(data: dict[str, Any]) -> ExchangeOrder:
        return ExchangeOrder(
            exchange_order_id=data["exchange_order_id"],
            client_order_id=data["client_order_id"],
            symbol=data["symbol"],
            side=data["side"],
            type=data["type"],
            amount=Decimal(data["amount"]),
            price=Decimal(data["price"]) if data.get("price") else None,
            status=ExchangeOrderStatus(data["status"]),
            filled=Decimal(data["filled"]),
            cost=Decimal(data["cost"]),
            fee_cost=Decimal(data["fee"]),
            fee_currency=data["fee_currency"],
            timestamp_ms=data["created_ms"],
            raw_status=data["status"],
        )

    def _validate(self, request: OrderRequest, market: Market) -> None:
        if request.amount <= 0 or request.amount % market.amount_step:
            raise _reject("invalid_order", "amount does not match the market's step")
        if request.amount < market.min_amount:
            raise _reject("invalid_order", "amount below the market minimum")
        if request.type == "limit" and (
            request.price is None or request.price <= 0 or request.price % market.price_step
        ):
            raise _reject("invalid_order", "limit price missing or off the price step")

    def _commit(self, rows: list[PaperRecord], new: PaperRecord | None = None) -> None:
        """Save balance and order rows together; a concurrent writer makes this a retryable error."""
        try:
            save_together(self.tenant_id, rows, new)
        except TransactWriteError as exc:
            raise ExchangeTemporary("paper exchange busy; retry") from exc

    def _apply(
        self, balances: dict[str, PaperRecord], asset: str, free: Decimal = Decimal(0), used: Decimal = Decimal(0)
    ) -> PaperRecord:
        row = balances.get(asset) or PaperRecord(
            tenant_id=self.tenant_id, item=f"bal#{asset}", data=json.dumps({"free": "0", "used": "0"})
        )
        balances[asset] = row
        data = row.payload()
        new_free, new_used = Decimal(data["free"]) + free, Decimal(data["used"]) + used
        if new_free < 0 or new_used < 0:
            raise _reject("insufficient_funds", f"insufficient {asset} balance")
        row.data = json.dumps({"free": str(new_free), "used": str(new_used)})
        return row

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        market = self.market(request.symbol)
        self._validate(request, market)
        existing, balances = order_and_balances(self.tenant_id, request.client_order_id, (market.base, market.quote))
        if existing is not None:
            raise _reject("duplicate_client_order_id", "client order id already used")
        if len(balances) < len({market.base, market.quote}):
            balances = self._balance_rows()  # an asset never held (or an account never used): the full read
        for _ in range(_WRITE_ATTEMPTS):
            try:
                return self._place(request, market, balances)
            except ExchangeTemporary:
                balances = self._balance_rows()  # a concurrent writer won: read the new versions
        raise ExchangeTemporary("paper exchange busy; retry")

    def _place(self, request: OrderRequest, market: Market, balances: dict[str, PaperRecord]) -> ExchangeOrder:
        ticker = self.fetch_ticker(request.symbol)
        now = self.clock_ms()
        data: dict[str, Any] = {
            "exchange_order_id": f"paper-{request.client_order_id}",
            "client_order_id": request.client_order_id,
            "symbol": request.symbol,
            "side": request.side,
            "type": request.type,
            "amount": str(request.amount),
            "price": str(request.price) if request.price is not None else None,
            "status": "open",
            "filled": "0",
            "cost": "0",
            "fee": "0",
            "fee_currency": market.quote,
            "created_ms": now,
        }
        touched: dict[str, PaperRecord] = {}
        ask, bid = ticker.ask or ticker.last, ticker.bid or ticker.last
        if request.amount * (request.price or ticker.last) < market.min_cost:
            raise _reject("invalid_order", "order value below the market minimum")
        if request.type == "market":
            price = ask * (1 + self.slippage) if request.side == "buy" else bid * (1 - self.slippage)
            self._fill(data, balances, touched, market, price.quantize(market.price_step), self.taker_fee, False)
        elif request.price is not None:
            if request.side == "buy":
                reserve = request.amount * request.price * (1 + self.maker_fee)
                touched[market.quote] = self._apply(balances, market.quote, free=-reserve, used=reserve)
            else:
                touched[market.base] = self._apply(balances, market.base, free=-request.amount, used=request.amount)
            crossed = (request.side == "buy" and request.price >= ask) or (
                request.side == "sell" and request.price <= bid
            )
            if crossed:
                fill_price = min(request.price, ask) if request.side == "buy" else max(request.price, bid)
                self._fill(data, balances, touched, market, fill_price, self.taker_fee, True)
        new = PaperRecord(tenant_id=self.tenant_id, item=f"ord#{request.client_order_id}", data=json.dumps(data))
        self._commit(list(touched.values()), new)
        return self._to_order(data)

    def _fill(
        self,
        data: dict[str, Any],
        balances: dict[str, PaperRecord],
        touched: dict[str, PaperRecord],
        market: Market,
        price: Decimal,
        fee_rate: Decimal,
        reserved: bool,
    ) -> None:
        """Fill the whole order at `price`, moving balances (and releasing any reservation)."""
        amount = Decimal(data["amount"])
        cost = amount * price
        fee = (cost * fee_rate).quantize(Decimal("0.00000001"))
        if data["side"] == "buy":
            if reserved:
                reserve = amount * Decimal(data["price"]) * (1 + self.maker_fee)
                touched[market.quote] = self._apply(balances, market.quote, free=reserve - cost - fee, used=-reserve)
            else:
                touched[market.quote] = self._apply(balances, market.quote, free=-(cost + fee))
            touched[market.base] = self._apply(balances, market.base, free=amount)
        else:
            if reserved:
                touched[market.base] = self._apply(balances, market.base, used=-amount)
            else:
                touched[market.base] = self._apply(balances, market.base, free=-amount)
            touched[market.quote] = self._apply(balances, market.quote, free=cost - fee)
        data.update(status="closed", filled=str(amount), cost=str(cost), fee=str(fee))

    def _match(self, row: PaperRecord) -> ExchangeOrder:
        """Fill a resting limit order if the market has crossed it since it was placed."""
        data = row.payload()
        if data["status"] != "open":
            return self._to_order(data)
        market = self.market(data["symbol"])
        price = self._price(data["symbol"])
        limit = Decimal(data["price"])
        if (data["side"] == "buy" and price <= limit) or (data["side"] == "sell" and price >= limit):
            balances = self._balance_rows()
            touched: dict[str, PaperRecord] = {}
            self._fill(data, balances, touched, market, limit, self.maker_fee, True)
            row.data = json.dumps(data)
            self._commit([row, *touched.values()])
        return self._to_order(data)

    def fetch_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        cid = client_order_id or (exchange_order_id or "").removeprefix("paper-")
        row = self._order_row(cid) if cid else None
        if row is None:
            raise ExchangeOrderNotFound("paper exchange: no such order")
        return self._match(row)

    def cancel_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        order = self.fetch_order(symbol, exchange_order_id=exchange_order_id, client_order_id=client_order_id)
        if order.status is not ExchangeOrderStatus.OPEN:
            return order
        row = self._order_row(order.client_order_id or "")
        if row is None:
            raise ExchangeOrderNotFound("paper exchange: no such order")
        data = row.payload()
        market = self.market(data["symbol"])
        balances = self._balance_rows()
        amount, price = Decimal(data["amount"]), Decimal(data["price"])
        if data["side"] == "buy":
            reserve = amount * price * (1 + self.maker_fee)
            touched = self._apply(balances, market.quote, free=reserve, used=-reserve)
        else:
            touched = self._apply(balances, market.base, free=amount, used=-amount)
        data["status"] = "canceled"
        row.data = json.dumps(data)
        self._commit([row, touched])
        return self._to_order(data)

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        result = []
        for client_order_id in open_order_ids(self.tenant_id):
            row = self._order_row(client_order_id)
            if row is None:
                continue
            data = row.payload()
            if data["status"] == "open" and (symbol is None or data["symbol"] == symbol):
                order = self._match(row)
                if order.status is ExchangeOrderStatus.OPEN:
                    result.append(order)
        return result
