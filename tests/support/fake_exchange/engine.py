"""The in-memory spot exchange behind the fake Binance server: markets, balances, orders, fills.

It knows nothing about HTTP; the server turns its return values and :class:`BinanceError` into
answers. Every public method must be called with the server's lock held (the server does), so
the engine itself stays simple and single-threaded. Numbers are Decimals throughout and are
formatted the way Binance formats them (8 decimals, as strings).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, ClassVar

from tests.support import fake_book
from tests.support.fake_book import ZERO, Amounts, Clock, Markets, OrderState, SpotBook, decimal_param, random_token

MARKETS_PATH = Path(__file__).with_name("binance_markets.json")

EIGHT_DP = Decimal("0.00000001")
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
INTERVAL_MS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    "1M": 2_592_000_000,
}


def fmt(value: Decimal) -> str:
    """Binance's number format: a string with exactly 8 decimals."""
    return f"{value.quantize(EIGHT_DP, rounding=ROUND_DOWN):f}"


def load_markets(path: Path = MARKETS_PATH) -> dict[str, dict[str, Any]]:
    """The committed ccxt unified markets, keyed by unified symbol ("BTC/USDT")."""
    return fake_book.load_markets(path)


def random_client_id() -> str:
    """A client order id of the shape Binance generates when the client sends none."""
    return random_token(string.ascii_letters + string.digits, 22)


class BinanceError(Exception):
    """An error answer exactly as Binance sends it: an HTTP status and ``{"code", "msg"}``."""

    def __init__(self, http_status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.http_status = http_status
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def both_empty(first: str, second: str) -> BinanceError:
    return BinanceError(400, -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def unknown_order() -> BinanceError:
    return BinanceError(400, -2011, "Unknown order sent.")


def order_does_not_exist() -> BinanceError:
    return BinanceError(400, -2013, "Order does not exist.")


def insufficient_balance() -> BinanceError:
    return BinanceError(400, -2010, "Account has insufficient balance for requested action.")


def _decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    return decimal_param(params, name, lambda bad: illegal(bad, fake_book.DECIMAL_RE.pattern))


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise illegal(name, "^-?[0-9]{1,20}$")
    return int(raw)


@dataclass(frozen=True)
class MarketRules:
    """One market's trading filters, read from the Binance ``filters`` kept in ``info``."""

    symbol: str
    market_id: str
    base: str
    quote: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal

    @classmethod
    def from_ccxt_market(cls, market: Mapping[str, Any]) -> MarketRules:
        filters = {f["filterType"]: f for f in market["info"]["filters"]}
        price, lot, notional = filters["PRICE_FILTER"], filters["LOT_SIZE"], filters["NOTIONAL"]
        return cls(
            symbol=market["symbol"],
            market_id=market["id"],
            base=market["baseId"],
            quote=market["quoteId"],
            tick_size=Decimal(price["tickSize"]),
            min_price=Decimal(price["minPrice"]),
            max_price=Decimal(price["maxPrice"]),
            step_size=Decimal(lot["stepSize"]),
            min_qty=Decimal(lot["minQty"]),
            max_qty=Decimal(lot["maxQty"]),
            min_notional=Decimal(notional["minNotional"]),
        )

    def check_price(self, price: Decimal) -> None:
        if price < self.min_price or price > self.max_price or price % self.tick_size != 0:
            raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")

    def check_qty(self, qty: Decimal) -> None:
        if qty < self.min_qty or qty > self.max_qty or (qty - self.min_qty) % self.step_size != 0:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")

    def check_notional(self, qty: Decimal, price: Decimal) -> None:
        if qty * price < self.min_notional:
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")

    def floor_qty(self, qty: Decimal) -> Decimal:
        return (qty / self.step_size).to_integral_value(rounding=ROUND_DOWN) * self.step_size

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value() * self.tick_size


@dataclass
class Fill:
    """One trade of an order."""

    trade_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool

    def to_binance(self) -> dict[str, Any]:
        return {
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }


@dataclass
class FakeOrder(OrderState):
    """An exchange-side order. ``reserved`` is the part of the balance still locked for it."""

    open_statuses: ClassVar[frozenset[str]] = OPEN_STATUSES
    client_id_field: ClassVar[str] = "client_order_id"

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str | None
    price: Decimal
    orig_qty: Decimal
    orig_quote_order_qty: Decimal
    time_ms: int
    update_time_ms: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cummulative_quote_qty: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)
    reserved: Decimal = ZERO

    @property
    def remaining_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_order_qty),
            "cummulativeQuoteQty": fmt(self.cummulative_quote_qty),
            "status": self.status,
            "timeInForce": self.time_in_force or "GTC",
            "type": self.type,
            "side": self.side,
        }

    def to_binance(self) -> dict[str, Any]:
        """The GET /api/v3/order (and openOrders) shape."""
        return {
            **self._common(),
            "stopPrice": fmt(ZERO),
            "icebergQty": fmt(ZERO),
            "time": self.time_ms,
            "updateTime": self.update_time_ms,
            "isWorking": True,
            "workingTime": self.time_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def to_new_order_response(self, resp_type: str) -> dict[str, Any]:
        """The POST /api/v3/order answer for newOrderRespType ACK, RESULT or FULL."""
        ack = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time_ms,
        }
        if resp_type == "ACK":
            return ack
        result = {
            **ack,
            **self._common(),
            "workingTime": self.time_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if resp_type == "RESULT":
            return result
        return {**result, "fills": [fill.to_binance() for fill in self.fills]}


class SpotExchange(SpotBook[FakeOrder, MarketRules]):
    """Balances, prices and orders of one account, with Binance's acceptance rules."""

    def __init__(self, markets: Markets, balances: Amounts, prices: Amounts, fee_rate: Decimal, clock: Clock) -> None:
        super().__init__(markets, prices, clock, MarketRules.from_ccxt_market)
        self.free: dict[str, Decimal] = {asset: Decimal(amount) for asset, amount in balances.items()}
        self.locked: dict[str, Decimal] = {asset: ZERO for asset in balances}
        self.fee_rate = fee_rate
        self._next_order_id = 1001
        self._next_trade_id = 5001

    # -- lookups -----------------------------------------------------------------------------

    def rules_for(self, symbol: str) -> MarketRules:
        """The market for a unified ("BTC/USDT") or exchange ("BTCUSDT") symbol."""
        for rules in self.rules.values():
            if symbol in {rules.symbol, rules.market_id}:
                return rules
        raise KeyError(f"unknown symbol {symbol!r}")

    def market_key(self, symbol: str) -> str:
        return self.rules_for(symbol).market_id

    def current_price(self, key: str) -> Decimal:
        return self.price_of(key)

    def price_of(self, market_id: str) -> Decimal:
        try:
            return self.prices[market_id]
        except KeyError:
            raise BinanceError(400, -1121, "Invalid symbol.") from None

    def _market(self, params: Mapping[str, str]) -> MarketRules:
        symbol = params.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        rules = self.rules.get(symbol)
        if rules is None:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return rules

    def _find(self, params: Mapping[str, str], missing: Callable[[], BinanceError]) -> FakeOrder:
        """Binance's lookup: orderId first (then checked against origClientOrderId), else the
        most recent order with that client id."""
        rules = self._market(params)
        order_id = _int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise both_empty("origClientOrderId", "orderId")
        candidates = [o for o in self.orders if o.symbol == rules.market_id]
        if order_id is not None:
            candidates = [o for o in candidates if o.order_id == order_id]
        if client_id is not None:
            candidates = [o for o in candidates if o.client_order_id == client_id]
        if not candidates:
            raise missing()
        return candidates[-1]

    def _is_exchange_id(self, order: FakeOrder, ref: Any) -> bool:
        return isinstance(ref, int) and order.order_id == ref

    # -- balances ----------------------------------------------------------------------------

    def _lock(self, asset: str, amount: Decimal) -> None:
        if self.free.get(asset, ZERO) < amount:
            raise insufficient_balance()
        self.free[asset] = self.free.get(asset, ZERO) - amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def _release(self, order: FakeOrder) -> None:
        rules = self.rules[order.symbol]
        asset = rules.quote if order.side == "BUY" else rules.base
        self.locked[asset] -= order.reserved
        self.free[asset] += order.reserved
        order.reserved = ZERO

    # -- orders ------------------------------------------------------------------------------

    def create_order(self, params: Mapping[str, str], *, force_insufficient: bool = False) -> dict[str, Any]:
        """POST /api/v3/order: validate like Binance, reserve funds, fill if marketable."""
        rules = self._market(params)
        side = params.get("side", "")
        if side not in {"BUY", "SELL"}:
            raise mandatory("side") if not side else illegal("side", "BUY|SELL")
        order_type = params.get("type", "")
        if not order_type:
            raise mandatory("type")
        if order_type not in {"LIMIT", "MARKET", "LIMIT_MAKER"}:
            raise BinanceError(400, -1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or random_client_id()
        if not CLIENT_ID_RE.match(client_id):
            raise illegal("newClientOrderId", CLIENT_ID_RE.pattern)
        market_price = self.price_of(rules.market_id)
        qty, price, quote_qty, tif = self._order_terms(rules, order_type, side, params, market_price)
        rules.check_qty(qty)
        rules.check_notional(qty, price if order_type != "MARKET" else market_price)
        if any(o.is_open and o.symbol == rules.market_id and o.client_order_id == client_id for o in self.orders):
            raise BinanceError(400, -2010, "Duplicate order sent.")
        if force_insufficient:
            raise insufficient_balance()
        marketable = order_type == "MARKET" or (price >= market_price if side == "BUY" else price <= market_price)
        if order_type == "LIMIT_MAKER" and marketable:
            raise BinanceError(400, -2010, "Order would immediately match and take.")
        reserve_price = market_price if order_type == "MARKET" else price
        reserved = qty * reserve_price if side == "BUY" else qty
        self._lock(rules.quote if side == "BUY" else rules.base, reserved)
        now = self.clock()
        order = FakeOrder(
            order_id=self._next_order_id,
            client_order_id=client_id,
            symbol=rules.market_id,
            side=side,
            type=order_type,
            time_in_force=tif,
            price=ZERO if order_type == "MARKET" else price,
            orig_qty=qty,
            orig_quote_order_qty=quote_qty,
            time_ms=now,
            update_time_ms=now,
            reserved=reserved,
        )
        self._next_order_id += 1
        self.orders.append(order)
        if marketable:
            self._fill(order, qty, market_price, is_maker=False)
        elif tif in {"IOC", "FOK"}:
            order.status = "EXPIRED"
            self._release(order)
        default_resp = "FULL" if order_type in {"LIMIT", "MARKET"} else "ACK"
        return order.to_new_order_response(params.get("newOrderRespType") or default_resp)

    def _order_terms(
        self, rules: MarketRules, order_type: str, side: str, params: Mapping[str, str], market_price: Decimal
    ) -> tuple[Decimal, Decimal, Decimal, str | None]:
        """(quantity, limit price, quoteOrderQty, timeInForce) with Binance's mandatory-parameter
        rules; a MARKET order sent with quoteOrderQty gets its quantity from the current price."""
        qty = _decimal_param(params, "quantity")
        quote_qty = _decimal_param(params, "quoteOrderQty")
        price = _decimal_param(params, "price")
        if order_type == "MARKET":
            if price is not None:
                raise BinanceError(400, -1106, "Parameter 'price' sent when not required.")
            if qty is None and quote_qty is None:
                raise both_empty("quantity", "quoteOrderQty")
            if qty is not None and quote_qty is not None:
                raise BinanceError(400, -1106, "Parameter 'quoteOrderQty' sent when not required.")
            if qty is None:
                assert quote_qty is not None
                qty = rules.floor_qty(quote_qty / market_price)
            return qty, ZERO, quote_qty or ZERO, None
        if qty is None:
            raise mandatory("quantity")
        if price is None:
            raise mandatory("price")
        rules.check_price(price)
        tif: str | None = None
        if order_type == "LIMIT":
            tif = params.get("timeInForce")
            if not tif:
                raise mandatory("timeInForce")
            if tif not in {"GTC", "IOC", "FOK"}:
                raise BinanceError(400, -1115, "Invalid timeInForce.")
        return qty, price, ZERO, tif

    def _fill(self, order: FakeOrder, qty: Decimal, price: Decimal, *, is_maker: bool) -> None:
        """Trade ``qty`` of ``order`` at ``price``: consume its reservation, refund price
        improvement, credit the proceeds minus the commission (taken in the received asset)."""
        rules = self.rules[order.symbol]
        quote_amount = qty * price
        if order.side == "BUY":
            consumed = order.reserved if qty == order.remaining_qty else qty * (order.price or price)
            self.locked[rules.quote] -= consumed
            order.reserved -= consumed
            self.free[rules.quote] += consumed - quote_amount
            commission = (qty * self.fee_rate).quantize(EIGHT_DP, rounding=ROUND_DOWN)
            commission_asset = rules.base
            self.free[rules.base] = self.free.get(rules.base, ZERO) + qty - commission
        else:
            self.locked[rules.base] -= qty
            order.reserved -= qty
            commission = (quote_amount * self.fee_rate).quantize(EIGHT_DP, rounding=ROUND_DOWN)
            commission_asset = rules.quote
            self.free[rules.quote] = self.free.get(rules.quote, ZERO) + quote_amount - commission
        now = self.clock()
        order.fills.append(Fill(self._next_trade_id, price, qty, commission, commission_asset, now, is_maker))
        self._next_trade_id += 1
        order.executed_qty += qty
        order.cummulative_quote_qty += quote_amount
        order.status = "FILLED" if order.remaining_qty == 0 else "PARTIALLY_FILLED"
        order.update_time_ms = now

    def fill(self, ref: int | str, qty: Decimal | None = None, price: Decimal | None = None) -> FakeOrder:
        """For tests: fill an open order (fully, or ``qty`` of it) at its limit price or ``price``."""
        order, qty, fill_price = self.fill_terms(
            ref,
            qty,
            price,
            remaining=lambda o: o.remaining_qty,
            limit=lambda o: o.price,
            buys=lambda o: o.side == "BUY",
        )
        self._fill(order, qty, fill_price, is_maker=True)
        return order

    def query_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """GET /api/v3/order."""
        return self._find(params, order_does_not_exist).to_binance()

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """DELETE /api/v3/order. Like Binance, the answer's ``clientOrderId`` identifies the
        cancel request (``newClientOrderId`` or a generated id); the order's own client id is
        ``origClientOrderId``."""
        order = self._find(params, unknown_order)
        if not order.is_open:
            raise unknown_order()
        self._release(order)
        order.status = "CANCELED"
        order.update_time_ms = self.clock()
        answer = order.to_new_order_response("RESULT")
        answer.pop("workingTime", None)
        answer["transactTime"] = order.update_time_ms
        answer["origClientOrderId"] = order.client_order_id
        answer["clientOrderId"] = params.get("newClientOrderId") or random_client_id()
        return answer

    def open_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """GET /api/v3/openOrders, with or without a symbol."""
        market_id = self._market(params).market_id if params.get("symbol") else None
        return [
            order.to_binance()
            for order in self.orders
            if order.is_open and (market_id is None or order.symbol == market_id)
        ]

    def my_trades(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """GET /api/v3/myTrades (symbol required, orderId optional)."""
        rules = self._market(params)
        order_id = _int_param(params, "orderId")
        trades: list[dict[str, Any]] = []
        for order in self.orders:
            if order.symbol != rules.market_id or (order_id is not None and order.order_id != order_id):
                continue
            trades.extend(
                {
                    "symbol": order.symbol,
                    "id": fill.trade_id,
                    "orderId": order.order_id,
                    "orderListId": -1,
                    "price": fmt(fill.price),
                    "qty": fmt(fill.qty),
                    "quoteQty": fmt(fill.price * fill.qty),
                    "commission": fmt(fill.commission),
                    "commissionAsset": fill.commission_asset,
                    "time": fill.time_ms,
                    "isBuyer": order.side == "BUY",
                    "isMaker": fill.is_maker,
                    "isBestMatch": True,
                }
                for fill in order.fills
            )
        return sorted(trades, key=lambda trade: trade["id"])

    # -- account and market data -------------------------------------------------------------

    def account(self) -> dict[str, Any]:
        """GET /api/v3/account."""
        assets = sorted(set(self.free) | set(self.locked))
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(self.fee_rate),
                "taker": fmt(self.fee_rate),
                "buyer": fmt(ZERO),
                "seller": fmt(ZERO),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.clock(),
            "accountType": "SPOT",
            "balances": [
                {"asset": asset, "free": fmt(self.free.get(asset, ZERO)), "locked": fmt(self.locked.get(asset, ZERO))}
                for asset in assets
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def ticker_24hr(self, params: Mapping[str, str]) -> dict[str, Any] | list[dict[str, Any]]:
        """GET /api/v3/ticker/24hr for one symbol, or all of them without ``symbol``."""
        if not params.get("symbol"):
            return [self._ticker(rules) for rules in self.rules.values() if rules.market_id in self.prices]
        return self._ticker(self._market(params))

    def _ticker(self, rules: MarketRules) -> dict[str, Any]:
        price = self.price_of(rules.market_id)
        now = self.clock()
        return {
            "symbol": rules.market_id,
            "priceChange": fmt(ZERO),
            "priceChangePercent": "0.000",
            "weightedAvgPrice": fmt(price),
            "prevClosePrice": fmt(price),
            "lastPrice": fmt(price),
            "lastQty": fmt(rules.min_qty),
            "bidPrice": fmt(price - rules.tick_size),
            "bidQty": fmt(Decimal(1)),
            "askPrice": fmt(price + rules.tick_size),
            "askQty": fmt(Decimal(1)),
            "openPrice": fmt(price),
            "highPrice": fmt(price),
            "lowPrice": fmt(price),
            "volume": fmt(Decimal(1000)),
            "quoteVolume": fmt(price * 1000),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": 1,
            "lastId": 1000,
            "count": 1000,
        }

    def klines(self, params: Mapping[str, str]) -> list[list[Any]]:
        """GET /api/v3/klines: deterministic candles; each opens at the previous close and
        spans 0.05% either side of its body."""
        rules = self._market(params)
        interval = params.get("interval")
        if not interval:
            raise mandatory("interval")
        if interval not in INTERVAL_MS:
            raise BinanceError(400, -1120, "Invalid interval.")
        step = INTERVAL_MS[interval]
        limit = min(max(_int_param(params, "limit") or 500, 1), 1000)
        start, end = _int_param(params, "startTime"), _int_param(params, "endTime")
        current = self.clock() // step * step
        last = current if end is None else min(current, end // step * step)
        if start is not None:
            first = -(-start // step) * step
            opens = [t for t in range(first, last + 1, step)][:limit]
        else:
            opens = [t for t in (last - i * step for i in range(limit - 1, -1, -1)) if t >= 0]
        rows: list[list[Any]] = []
        for open_time in opens:
            open_, high, low, close = self.candle(rules.market_id, (current - open_time) // step)
            high, low = rules.round_price(high), rules.round_price(low)
            rows.append([
                open_time, fmt(open_), fmt(high), fmt(low), fmt(close), fmt(Decimal(10)),
                open_time + step - 1, fmt(close * 10), 100, fmt(Decimal(5)), fmt(close * 5), "0",
            ])  # fmt: skip
        return rows
