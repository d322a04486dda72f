"""The in-memory spot exchange behind the fake Kraken server: pairs, balances, orders, fills.

It knows nothing about HTTP; the server turns its return values and :class:`KrakenError` into
Kraken's ``{"error": [...], "result": ...}`` envelope. Every public method must be called with the
server's lock held (the server does). Numbers are Decimals throughout and are formatted the way
Kraken formats them: volumes with 8 decimals, prices with the pair's ``pair_decimals``, costs and
fees with its ``cost_decimals``, all as strings.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any, ClassVar

from tests.support import fake_book
from tests.support.fake_book import ZERO, Amounts, Clock, Markets, OrderState, SpotBook, decimal_param, random_token

MARKETS_PATH = Path(__file__).with_name("kraken_markets.json")

OPEN_STATUSES = frozenset({"pending", "open"})
# Kraken's asset codes for the unified codes the fake knows (ccxt maps them back).
ASSET_CODES: dict[str, str] = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR", "USDT": "USDT"}
# cl_ord_id: a long UUID, a short UUID (32 hex digits) or free text of at most 18 characters.
LONG_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SHORT_UUID_RE = re.compile(r"^[0-9a-fA-F]{32}$")
FREE_TEXT_RE = re.compile(r"^[\x21-\x7e]{1,18}$")
TXID_RE = re.compile(r"^O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$")
INT32_MAX = 2**31 - 1
INTERVALS_MIN = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})
OHLC_ROWS = 720
CLOSED_PAGE = 50

# Kraken's error strings. DUPLICATE_CL_ORD_ID is not documented verbatim (Kraken documents that
# cl_ord_id is unique among a client's open orders, not the text of the refusal).
INVALID_ORDER = "EOrder:Invalid order"
UNKNOWN_ORDER = "EOrder:Unknown order"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ORDER_MINIMUM = "EOrder:Order minimum not met"
COST_MINIMUM = "EOrder:Cost minimum not met"
DUPLICATE_CL_ORD_ID = "EOrder:Duplicate order"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"


def load_markets(path: Path = MARKETS_PATH) -> dict[str, dict[str, Any]]:
    """The committed ccxt unified kraken markets, keyed by unified symbol ("BTC/USD")."""
    return fake_book.load_markets(path)


def kraken_asset(code: str) -> str:
    """Kraken's code for a unified one ("BTC" -> "XXBT"); Kraken codes pass through."""
    return ASSET_CODES.get(code, code)


def _kraken_id(prefix: str) -> str:
    pick = random_token(string.ascii_uppercase + string.digits, 16)
    return f"{prefix}{pick[:5]}-{pick[5:10]}-{pick[10:]}"


def new_txid() -> str:
    """An order id of Kraken's shape, e.g. ``OQCLML-BW3P3-BUCMWZ``."""
    return _kraken_id("O")


def new_trade_id() -> str:
    return _kraken_id("T")


def valid_cl_ord_id(value: str) -> bool:
    return bool(LONG_UUID_RE.match(value) or SHORT_UUID_RE.match(value) or FREE_TEXT_RE.match(value))


class KrakenError(Exception):
    """An error answer as Kraken sends it: HTTP 200 and ``{"error": [message]}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def invalid_arguments(name: str | None = None) -> KrakenError:
    return KrakenError("EGeneral:Invalid arguments" + (f":{name}" if name else ""))


def fmt(value: Decimal, decimals: int) -> str:
    """``value`` with exactly ``decimals`` decimals (truncated, as Kraken reports)."""
    quantum = Decimal(1).scaleb(-decimals)
    return f"{value.quantize(quantum, rounding=ROUND_DOWN):f}"


def _decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    return decimal_param(params, name, invalid_arguments)


def _decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(-int(exponent), 0)


def truthy(raw: str | None) -> bool:
    """Kraken reads ``true``/``1`` (ccxt sends Python's ``True``) as true."""
    return (raw or "").lower() in {"true", "1"}


@dataclass(frozen=True)
class PairRules:
    """One asset pair, read from the AssetPairs entry kept in the ccxt market's ``info``."""

    symbol: str
    pair_id: str
    altname: str
    wsname: str
    base: str
    quote: str
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    ordermin: Decimal
    costmin: Decimal
    tick_size: Decimal
    info: Mapping[str, Any]

    @classmethod
    def from_ccxt_market(cls, market: Mapping[str, Any]) -> PairRules:
        info = market["info"]
        return cls(
            symbol=market["symbol"],
            pair_id=market["id"],
            altname=info["altname"],
            wsname=info["wsname"],
            base=info["base"],
            quote=info["quote"],
            pair_decimals=int(info["pair_decimals"]),
            lot_decimals=int(info["lot_decimals"]),
            cost_decimals=int(info["cost_decimals"]),
            ordermin=Decimal(str(info["ordermin"])),
            costmin=Decimal(str(info.get("costmin") or 0)),
            tick_size=Decimal(str(info["tick_size"])),
            info=info,
        )

    def price(self, value: Decimal) -> str:
        return fmt(value, self.pair_decimals)

    def cost(self, value: Decimal) -> str:
        return fmt(value, self.cost_decimals)


@dataclass
class Fill:
    """One trade of an order."""

    trade_id: str
    price: Decimal
    qty: Decimal
    cost: Decimal
    fee: Decimal
    time_s: float
    maker: bool


@dataclass
class FakeOrder(OrderState):
    """An exchange-side order. ``reserved`` is what is still held (``hold_trade``) for it."""

    open_statuses: ClassVar[frozenset[str]] = OPEN_STATUSES
    client_id_field: ClassVar[str] = "cl_ord_id"

    txid: str
    cl_ord_id: str | None
    userref: int | None
    pair_id: str
    altname: str
    side: str
    ordertype: str
    price: Decimal | None
    vol: Decimal
    oflags: str
    opentm: float
    status: str = "open"
    reason: str | None = None
    closetm: float | None = None
    vol_exec: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)
    reserved: Decimal = ZERO
    reserved_asset: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.vol - self.vol_exec

    @property
    def fee_in_base(self) -> bool:
        return "fcib" in self.oflags.split(",")

    def description(self, rules: PairRules) -> str:
        """The ``descr.order`` sentence, e.g. ``buy 0.01000000 XBTUSD @ limit 59000.0``."""
        where = "market" if self.ordertype == "market" else f"limit {rules.price(self.price or ZERO)}"
        return f"{self.side} {fmt(self.vol, 8)} {self.altname} @ {where}"

    def to_kraken(self, rules: PairRules, *, trades: bool) -> dict[str, Any]:
        """The QueryOrders / OpenOrders / ClosedOrders shape of one order."""
        average = self.cost / self.vol_exec if self.vol_exec else ZERO
        answer: dict[str, Any] = {
            "refid": None,
            "userref": self.userref,
            "status": self.status,
            "reason": self.reason,
            "opentm": self.opentm,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": self.altname,
                "type": self.side,
                "ordertype": self.ordertype,
                "price": rules.price(self.price) if self.price is not None else "0",
                "price2": "0",
                "leverage": "none",
                "order": self.description(rules),
                "close": "",
            },
            "vol": fmt(self.vol, 8),
            "vol_exec": fmt(self.vol_exec, 8),
            "cost": rules.cost(self.cost),
            "fee": rules.cost(self.fee),
            "price": rules.price(average),
            "stopprice": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": self.oflags,
        }
        if self.cl_ord_id is not None:  # Kraken shows the field only on orders that have one
            answer["cl_ord_id"] = self.cl_ord_id
        if self.closetm is not None:
            answer["closetm"] = self.closetm
        if trades and self.fills:
            answer["trades"] = [fill.trade_id for fill in self.fills]
        return answer


class SpotExchange(SpotBook[FakeOrder, PairRules]):
    """Balances, prices and orders of one account, with Kraken's acceptance rules."""

    def __init__(
        self, markets: Markets, balances: Amounts, prices: Amounts, fees: tuple[Decimal, Decimal], clock: Clock
    ) -> None:
        """``fees``: the (taker, maker) rates."""
        super().__init__(markets, prices, clock, PairRules.from_ccxt_market)
        self.total: dict[str, Decimal] = {kraken_asset(a): Decimal(amount) for a, amount in balances.items()}
        self.held: dict[str, Decimal] = dict.fromkeys(self.total, ZERO)
        self.taker_fee, self.maker_fee = fees

    # -- lookups -----------------------------------------------------------------------------

    def rules_for(self, pair: str) -> PairRules:
        """A pair by unified symbol ("BTC/USD"), id ("XXBTZUSD"), altname ("XBTUSD") or wsname."""
        for rules in self.rules.values():
            if pair in {rules.symbol, rules.pair_id, rules.altname, rules.wsname}:
                return rules
        raise KrakenError(UNKNOWN_PAIR)

    def market_key(self, symbol: str) -> str:
        return self.rules_for(symbol).pair_id

    def _now_s(self) -> float:
        return self.clock() / 1000

    def free(self, asset: str) -> Decimal:
        asset = kraken_asset(asset)
        return self.total.get(asset, ZERO) - self.held.get(asset, ZERO)

    def _is_exchange_id(self, order: FakeOrder, ref: Any) -> bool:
        return bool(order.txid == ref)

    # -- balances ----------------------------------------------------------------------------

    def _hold(self, asset: str, amount: Decimal) -> None:
        if self.free(asset) < amount:
            raise KrakenError(INSUFFICIENT_FUNDS)
        self.held[asset] = self.held.get(asset, ZERO) + amount

    def _credit(self, asset: str, amount: Decimal) -> None:
        self.total[asset] = self.total.get(asset, ZERO) + amount
        self.held.setdefault(asset, ZERO)

    def _release(self, order: FakeOrder) -> None:
        self.held[order.reserved_asset] -= order.reserved
        order.reserved = ZERO

    # -- orders ------------------------------------------------------------------------------

    def _client_ids(self, params: Mapping[str, str]) -> tuple[str | None, int | None]:
        cl_ord_id = params.get("cl_ord_id") or None
        userref = _userref(params)
        if cl_ord_id is not None and userref is not None:
            raise invalid_arguments("cl_ord_id")  # the two are mutually exclusive
        if cl_ord_id is not None and not valid_cl_ord_id(cl_ord_id):
            raise invalid_arguments("cl_ord_id")
        return cl_ord_id, userref

    def add_order(self, params: Mapping[str, str], *, force_insufficient: bool = False) -> dict[str, Any]:
        """POST /0/private/AddOrder: validate like Kraken, hold funds, fill if marketable."""
        rules, side, ordertype, vol, price = self._order_terms(params)
        cl_ord_id, userref = self._client_ids(params)
        market_price = self.prices.get(rules.pair_id)
        if market_price is None:
            raise KrakenError("EService:Market in cancel_only mode")
        if vol < rules.ordermin:
            raise KrakenError(ORDER_MINIMUM)
        reference = price if price is not None else market_price
        if vol * reference < rules.costmin:
            raise KrakenError(COST_MINIMUM)
        oflags = [f for f in (params.get("oflags") or "").split(",") if f]
        if "fcib" not in oflags and "fciq" not in oflags:
            oflags.append("fciq" if side == "buy" else "fcib")  # Kraken's defaults
        if truthy(params.get("validate")):
            return {"descr": {"order": self._describe(rules, side, vol, ordertype, price)}}
        if cl_ord_id is not None and any(o.is_open and o.cl_ord_id == cl_ord_id for o in self.orders):
            raise KrakenError(DUPLICATE_CL_ORD_ID)
        if force_insufficient:
            raise KrakenError(INSUFFICIENT_FUNDS)
        marketable = price is None or (price >= market_price if side == "buy" else price <= market_price)
        order = FakeOrder(
            txid=new_txid(),
            cl_ord_id=cl_ord_id,
            userref=userref,
            pair_id=rules.pair_id,
            altname=rules.altname,
            side=side,
            ordertype=ordertype,
            price=price,
            vol=vol,
            oflags=",".join(oflags),
            opentm=self._now_s(),
        )
        self._reserve(order, rules, reference)
        self.orders.append(order)
        if marketable:
            self._fill(order, vol, market_price, maker=False)
        tif = (params.get("timeinforce") or "GTC").upper()
        if order.is_open and tif in {"IOC", "FOK"}:
            self._close(order, "canceled", "IOC")
        return {"descr": {"order": order.description(rules)}, "txid": [order.txid]}

    def _order_terms(self, params: Mapping[str, str]) -> tuple[PairRules, str, str, Decimal, Decimal | None]:
        """(pair, side, ordertype, volume, limit price) with Kraken's argument checks."""
        if not params.get("pair"):
            raise invalid_arguments("pair")
        rules = self.rules_for(params["pair"])
        side = params.get("type", "")
        if side not in {"buy", "sell"}:
            raise invalid_arguments("type")
        ordertype = params.get("ordertype", "")
        if ordertype not in {"market", "limit"}:
            raise invalid_arguments("ordertype")
        vol = _decimal(params, "volume")
        if vol is None or vol <= 0 or _decimals_of(vol) > rules.lot_decimals:
            raise invalid_arguments("volume")
        if "viqc" in (params.get("oflags") or ""):
            raise KrakenError("EGeneral:Invalid arguments:viqc")  # volume in quote: not modelled
        if ordertype == "market":
            return rules, side, ordertype, vol, None
        price = _decimal(params, "price")
        if price is None or price <= 0:
            raise invalid_arguments("price")
        if _decimals_of(price) > rules.pair_decimals:
            raise KrakenError(
                f"EOrder:Invalid price:{rules.altname} price can only be specified up to "
                f"{rules.pair_decimals} decimals."
            )
        return rules, side, ordertype, vol, price

    @staticmethod
    def _describe(rules: PairRules, side: str, vol: Decimal, ordertype: str, price: Decimal | None) -> str:
        where = "market" if ordertype == "market" else f"limit {rules.price(price or ZERO)}"
        return f"{side} {fmt(vol, 8)} {rules.altname} @ {where}"

    def _reserve(self, order: FakeOrder, rules: PairRules, reference: Decimal) -> None:
        """Hold what the order can spend: quote (plus the taker fee if paid in quote) for a buy,
        base (plus the fee if paid in base) for a sell."""
        rate = max(self.taker_fee, self.maker_fee)
        if order.side == "buy":
            amount, asset = order.vol * reference, rules.quote
            if not order.fee_in_base:
                amount += (amount * rate).quantize(Decimal(1).scaleb(-rules.cost_decimals), rounding=ROUND_UP)
        else:
            amount, asset = order.vol, rules.base
            if order.fee_in_base:
                amount += order.vol * rate
        self._hold(asset, amount)
        order.reserved, order.reserved_asset = amount, asset

    def _fill(self, order: FakeOrder, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        """Trade ``qty`` at ``price``: consume the hold, move the assets, charge the fee in the
        asset the order's oflags say (fciq: quote, fcib: base)."""
        rules = self.rules[order.pair_id]
        cost = qty * price
        rate = self.maker_fee if maker else self.taker_fee
        fee_base = order.fee_in_base
        fee = (
            (qty * rate)
            if fee_base
            else (cost * rate).quantize(Decimal(1).scaleb(-rules.cost_decimals), rounding=ROUND_UP)
        )
        if order.side == "buy":
            spent = cost + (ZERO if fee_base else fee)
            received_asset, received = rules.base, qty - (fee if fee_base else ZERO)
            spent_asset = rules.quote
        else:
            spent = qty + (fee if fee_base else ZERO)
            received_asset, received = rules.quote, cost - (ZERO if fee_base else fee)
            spent_asset = rules.base
        consumed = min(spent, order.reserved) if qty < order.remaining else order.reserved
        self.held[spent_asset] -= consumed
        order.reserved -= consumed
        self.total[spent_asset] -= spent
        self._credit(received_asset, received)
        order.fills.append(Fill(new_trade_id(), price, qty, cost, fee, self._now_s(), maker))
        order.vol_exec += qty
        order.cost += cost
        order.fee += fee
        if order.remaining == 0:
            self._close(order, "closed", None)

    def _close(self, order: FakeOrder, status: str, reason: str | None) -> None:
        if order.reserved:
            self._release(order)
        order.status = status
        order.reason = reason
        order.closetm = self._now_s()

    def fill(self, ref: str, qty: Decimal | None = None, price: Decimal | None = None) -> FakeOrder:
        """For tests: fill an open order (fully, or ``qty`` of it) at its limit or a better price."""
        order, qty, fill_price = self.fill_terms(
            ref,
            qty,
            price,
            remaining=lambda o: o.remaining,
            limit=lambda o: o.price if o.price is not None else self.prices[o.pair_id],
            buys=lambda o: o.side == "buy",
        )
        self._fill(order, qty, fill_price, maker=True)
        return order

    def _render(self, orders: list[FakeOrder], trades: bool) -> dict[str, Any]:
        return {o.txid: o.to_kraken(self.rules[o.pair_id], trades=trades) for o in orders}

    def select(self, params: Mapping[str, str], candidates: list[FakeOrder]) -> list[FakeOrder]:
        """The ``userref`` and ``cl_ord_id`` filters Open/Closed/QueryOrders share."""
        userref = _userref(params)
        cl_ord_id = params.get("cl_ord_id") or None
        return [
            o
            for o in candidates
            if (userref is None or o.userref == userref) and (cl_ord_id is None or o.cl_ord_id == cl_ord_id)
        ]

    def query_orders(self, params: Mapping[str, str], hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
        """POST /0/private/QueryOrders: ``txid`` (comma list, up to 50) is required; an id that
        matches no order (or is not an id at all) is "EOrder:Invalid order"."""
        raw = params.get("txid") or ""
        ids = [t.strip() for t in raw.split(",") if t.strip()]
        if not ids or len(ids) > 50:
            raise invalid_arguments("txid")
        _userref(params)
        found: list[FakeOrder] = []
        for txid in ids:
            match = next((o for o in self.orders if o.txid == txid and o.txid not in hidden), None)
            if match is None or not TXID_RE.match(txid):
                raise KrakenError(INVALID_ORDER)
            found.append(match)
        return self._render(self.select(params, found), truthy(params.get("trades")))

    def open_orders(self, params: Mapping[str, str], hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
        """POST /0/private/OpenOrders."""
        selected = self.select(params, [o for o in self.orders if o.is_open and o.txid not in hidden])
        return {"open": self._render(selected, truthy(params.get("trades")))}

    def closed_orders(self, params: Mapping[str, str], hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
        """POST /0/private/ClosedOrders: newest first, 50 a page (``ofs``), ``start``/``end``
        (unix seconds, exclusive) on the open or close time as ``closetime`` says."""
        closed = [o for o in self.orders if not o.is_open and o.txid not in hidden]
        start, end = _decimal(params, "start"), _decimal(params, "end")
        which = params.get("closetime") or "both"

        def times(order: FakeOrder) -> list[float]:
            both = [order.opentm, order.closetm or order.opentm]
            return {"open": both[:1], "close": both[1:]}.get(which, both)

        if start is not None:
            closed = [o for o in closed if any(t > start for t in times(o))]
        if end is not None:
            closed = [o for o in closed if any(t < end for t in times(o))]
        selected = sorted(self.select(params, closed), key=lambda o: o.closetm or 0, reverse=True)
        offset = int(params.get("ofs") or 0)
        page = selected[offset : offset + CLOSED_PAGE]
        return {"closed": self._render(page, truthy(params.get("trades"))), "count": len(selected)}

    def matches_for_lookup(self, params: Mapping[str, str], kind: str) -> list[FakeOrder]:
        """The orders a filtered read (by txid, cl_ord_id or userref) would return, for the
        replica-lag fault; kind is "query", "open" or "closed"."""
        if kind == "query":
            ids = {t.strip() for t in (params.get("txid") or "").split(",")}
            pool = [o for o in self.orders if o.txid in ids]
        elif kind == "open":
            pool = [o for o in self.orders if o.is_open]
        else:
            pool = [o for o in self.orders if not o.is_open]
        return self.select(params, pool)

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /0/private/CancelOrder by ``txid`` (an order id, or a userref: all its orders) or
        ``cl_ord_id``. An unknown or no longer open order is "EOrder:Unknown order"."""
        txid = params.get("txid") or None
        cl_ord_id = params.get("cl_ord_id") or None
        if txid is None and cl_ord_id is None:
            raise invalid_arguments("txid")
        if cl_ord_id is not None:
            targets = [o for o in self.orders if o.is_open and o.cl_ord_id == cl_ord_id]
        elif txid is not None and txid.lstrip("-").isdigit():
            targets = [o for o in self.orders if o.is_open and o.userref == int(txid)]
        else:
            targets = [o for o in self.orders if o.is_open and o.txid == txid]
        if not targets:
            raise KrakenError(UNKNOWN_ORDER)
        for order in targets:
            self._close(order, "canceled", "User requested")
        return {"count": len(targets)}

    # -- account and market data -------------------------------------------------------------

    def balance_ex(self) -> dict[str, Any]:
        """POST /0/private/BalanceEx: total and held per Kraken asset code."""
        return {
            asset: {"balance": fmt(self.total[asset], 10), "hold_trade": fmt(self.held.get(asset, ZERO), 10)}
            for asset in sorted(self.total)
        }

    def balance(self) -> dict[str, str]:
        """POST /0/private/Balance: totals only."""
        return {asset: fmt(amount, 10) for asset, amount in sorted(self.total.items())}

    def ticker(self, params: Mapping[str, str]) -> dict[str, Any]:
        """GET /0/public/Ticker?pair=a,b: keyed by pair id whatever name was asked for."""
        names = [p for p in (params.get("pair") or "").split(",") if p] or [
            r.pair_id for r in self.rules.values() if r.pair_id in self.prices
        ]
        return {rules.pair_id: self._ticker(rules) for rules in (self.rules_for(n) for n in names)}

    def _ticker(self, rules: PairRules) -> dict[str, Any]:
        price = self.prices.get(rules.pair_id)
        if price is None:
            raise KrakenError(UNKNOWN_PAIR)
        p = rules.price
        tick = rules.tick_size
        return {
            "a": [p(price + tick), "1", "1.000"],
            "b": [p(price - tick), "2", "2.000"],
            "c": [p(price), "0.01000000"],
            "v": ["100.00000000", "1000.00000000"],
            "p": [p(price), p(price)],
            "t": [500, 5000],
            "l": [p(price), p(price)],
            "h": [p(price), p(price)],
            "o": p(price),
        }

    def ohlc(self, params: Mapping[str, str]) -> dict[str, Any]:
        """GET /0/public/OHLC: the 720 most recent candles of ``interval`` minutes (after
        ``since``, unix seconds); each opens at the previous close, 0.05% wicks."""
        rules = self.rules_for(params.get("pair") or "")
        raw_interval = params.get("interval") or "1"
        interval = int(raw_interval) if raw_interval.isdigit() else -1
        if interval not in INTERVALS_MIN:
            raise invalid_arguments("interval")
        step = interval * 60
        now = self.clock() // 1000
        current = now // step * step
        since = _decimal(params, "since")
        opens = [current - i * step for i in range(OHLC_ROWS - 1, -1, -1)]
        if since is not None:
            opens = [t for t in opens if t > since]
        rows: list[list[Any]] = []
        for open_time in opens:
            open_, high, low, close = self.candle(rules.pair_id, (current - open_time) // step)
            rows.append(
                [
                    open_time,
                    rules.price(open_),
                    rules.price(high),
                    rules.price(low),
                    rules.price(close),
                    rules.price(close),
                    "10.00000000",
                    100,
                ]
            )
        return {rules.pair_id: rows, "last": current}

    def asset_pairs(self, params: Mapping[str, str]) -> dict[str, Any]:
        names = [p for p in (params.get("pair") or "").split(",") if p]
        chosen = [self.rules_for(n) for n in names] if names else list(self.rules.values())
        return {rules.pair_id: dict(rules.info) for rules in chosen}


def _userref(params: Mapping[str, str]) -> int | None:
    raw = params.get("userref")
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit() or abs(int(raw)) > INT32_MAX:
        raise invalid_arguments("userref")
    return int(raw)
