"""The ccxt adapter: the only module that imports ccxt.

It loads just the one exchange class it needs: importing the `ccxt` package would execute its
__init__, which imports all ~100 exchanges (about 0.5 s of cold start). Reads retry with backoff
on temporary errors; order creation never retries (shared.exchange.errors says why).
"""

from __future__ import annotations

import json
import logging
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from shared.errors import AppError, ExchangeOrderNotFound, ExchangeTemporary
from shared.exchange import errors as error_map
from shared.exchange.protocol import (
    AssetBalance,
    Candle,
    ExchangeOrder,
    ExchangeOrderStatus,
    Market,
    OrderRequest,
    Ticker,
)
from shared.light_imports import import_without_package_init
from shared.observability import tracer

T = TypeVar("T")

# Exchanges we accept for accounts; each needs the credentials listed.
SUPPORTED_EXCHANGES: dict[str, tuple[str, ...]] = {
    "binance": ("api_key", "secret"),
    "binanceus": ("api_key", "secret"),
    "bybit": ("api_key", "secret"),
    "okx": ("api_key", "secret", "password"),
    "kraken": ("api_key", "secret"),
    "coinbase": ("api_key", "secret"),
    "kucoin": ("api_key", "secret", "password"),
}
_STATUS = {
    "open": ExchangeOrderStatus.OPEN,
    "closed": ExchangeOrderStatus.CLOSED,
    "canceled": ExchangeOrderStatus.CANCELED,
    "cancelled": ExchangeOrderStatus.CANCELED,
    "expired": ExchangeOrderStatus.EXPIRED,
    "rejected": ExchangeOrderStatus.REJECTED,
}
_TICK_SIZE, _DECIMAL_PLACES = 4, 2
_READ_ATTEMPTS = 3
# How far back a lookup by client order id searches closed orders, where the exchange cannot
# fetch one order by it. Generous: an ambiguous order may be reconciled long after it was sent.
CLIENT_ID_LOOKBACK_MS = 14 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Quirks:
    """Where one exchange's ccxt class departs from the unified calls we rely on.

    The defaults describe Binance-like exchanges; `_QUIRKS` lists the others. Kept as data so the
    order paths stay the same for every exchange and the differences are visible in one place.
    """

    # fetch_order(None, symbol, {"clientOrderId": ...}) finds an order by our client id. Without
    # it we search open, then recently closed, orders filtered by client id.
    fetch_by_client_id: bool = True
    # The params that carry our client id on fetch/cancel (Binance reads origClientOrderId).
    client_id_params: tuple[str, ...] = ("clientOrderId", "origClientOrderId")
    # create_order() answers with the order's status and fills (Kraken only echoes id and text).
    create_returns_state: bool = True
    # cancel_order() answers with the order (Kraken answers {"count": 1}).
    cancel_returns_order: bool = True
    # ccxt exception classes that, on a lookup by exchange order id, mean "no such order".
    missing_order_errors: tuple[str, ...] = ()


_QUIRKS: dict[str, Quirks] = {
    # ccxt's kraken fetch_order sends a client id as `userref` (an int32; ours are UUIDs, so Kraken
    # refuses with a plain ExchangeError, which reads as temporary) and, without an exchange id,
    # its not-found path raises a TypeError; QueryOrders needs a txid anyway. OpenOrders and
    # ClosedOrders filter by cl_ord_id, which ccxt maps from clientOrderId. QueryOrders answers an
    # unknown txid with "EOrder:Invalid order", which ccxt raises as InvalidOrder. AddOrder echoes
    # only the txid and a description; CancelOrder answers {"count": 1}.
    "kraken": Quirks(
        fetch_by_client_id=False,
        client_id_params=("clientOrderId",),
        create_returns_state=False,
        cancel_returns_order=False,
        missing_order_errors=("InvalidOrder",),
    ),
}
# ccxt logs whole requests, API key header included, at DEBUG: never let it.
logging.getLogger("ccxt").setLevel(logging.WARNING)


def ccxt_errors() -> types.ModuleType:
    return import_without_package_init("ccxt", "base.errors")


def exchange_class(exchange_id: str) -> type:
    if exchange_id not in SUPPORTED_EXCHANGES:
        raise ValueError(f"unsupported exchange {exchange_id!r}")
    module = import_without_package_init("ccxt", exchange_id)
    cls: type = getattr(module, exchange_id)
    return cls


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:  # never print secrets, even in a traceback's locals
        return f"Credentials(api_key='...{self.api_key[-4:]}')"


@dataclass(frozen=True)
class EndpointOverride:
    """Points an exchange at another host (our fake exchange in tests) and supplies its markets
    from a file instead of the network."""

    base_url: str
    markets_file: str | None = None
    # ccxt's client-side rate limiter. It sleeps rateLimit x cost before each call (Kraken: 3 s
    # before every private call); a fake exchange has no limits to respect.
    throttle: bool = True


def _d(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _d_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _rewrite(urls: Any, base: str) -> Any:
    target = urlsplit(base)
    if isinstance(urls, str):
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
    if isinstance(urls, dict):
        return {k: _rewrite(v, base) for k, v in urls.items()}
    return urls


def _all_urls(urls: Any) -> list[str]:
    """Every URL in ccxt's nested `urls['api']`, in a stable order."""
    if isinstance(urls, str):
        return [urls]
    if isinstance(urls, dict):
        return [url for key in sorted(urls) for url in _all_urls(urls[key])]
    return []


_markets_cache: dict[tuple[str, bool, str | None], tuple[float, dict[str, Any]]] = {}
MARKETS_TTL_SECONDS = 3600


class CcxtExchange:
    """One exchange account (or public access, without credentials) through ccxt."""

    def __init__(
        self,
        exchange_id: str,
        credentials: Credentials | None = None,
        *,
        sandbox: bool = False,
        timeout_ms: int = 10_000,
        override: EndpointOverride | None = None,
    ) -> None:
        self.exchange_id = exchange_id
        self._errors = ccxt_errors()
        throttle = override.throttle if override is not None else True
        config: dict[str, Any] = {
            "enableRateLimit": throttle,
            "timeout": timeout_ms,
            "options": {
                "adjustForTimeDifference": False,
                "fetchCurrencies": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False,
            },
        }
        if credentials is not None:
            config.update(apiKey=credentials.api_key, secret=credentials.secret)
            if credentials.password:
                config["password"] = credentials.password
        self._client = exchange_class(exchange_id)(config)
        if sandbox:
            self._client.set_sandbox_mode(True)
        self._override = override
        if override is not None:
            self._point_at(override.base_url)
        self._cache_key = (exchange_id, sandbox, override.base_url if override else None)
        self._markets_loaded = False
        self.quirks = _QUIRKS.get(exchange_id, Quirks())

    def _point_at(self, base_url: str) -> None:
        """Send every API call to `base_url`, keeping paths. ccxt picks some exchanges' error
        tables by URL (Binance: spot vs futures), so lookups still see the original URL."""
        originals = _all_urls(self._client.urls["api"])
        self._client.urls["api"] = _rewrite(self._client.urls["api"], base_url)
        rewritten = _all_urls(self._client.urls["api"])
        back = sorted(zip(rewritten, originals, strict=True), key=lambda pair: -len(pair[0]))
        by_url = getattr(self._client, "get_exceptions_by_url", None)
        if by_url is None:
            return

        def exceptions_by_url(url: str | None, exact_or_broad: str) -> Any:
            for fake, real in back:
                if url is not None and url.startswith(fake):
                    url = real + url[len(fake) :]
                    break
            return by_url(url, exact_or_broad)

        self._client.get_exceptions_by_url = exceptions_by_url

    # ------------------------------------------------------------------ plumbing
    def _call(self, fn: Callable[[], T], *, creating: bool = False, missing: tuple[str, ...] = ()) -> T:
        """Run one ccxt call, translating its errors; reads retry temporary ones. `missing` names
        ccxt classes that mean "no such order" for this call (see Quirks.missing_order_errors)."""
        attempts = 1 if creating else _READ_ATTEMPTS
        for attempt in range(attempts):
            try:
                return fn()
            except self._errors.BaseError as exc:
                if any(isinstance(exc, getattr(self._errors, name)) for name in missing):
                    raise ExchangeOrderNotFound("the exchange does not know this order") from None
                translated: AppError = error_map.translate(self._errors, exc, creating=creating)
                if isinstance(translated, ExchangeTemporary) and attempt + 1 < attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise translated from None
        raise AssertionError("unreachable")

    def _ensure_markets(self) -> None:
        if self._markets_loaded:
            return
        cached = _markets_cache.get(self._cache_key)
        if cached is None or time.monotonic() - cached[0] > MARKETS_TTL_SECONDS:
            if self._override is not None and self._override.markets_file:
                raw = json.loads(Path(self._override.markets_file).read_text())
                self._client.set_markets(raw)
                markets = self._client.markets
            else:
                markets = self._call(self._client.load_markets)
            cached = (time.monotonic(), markets)
            _markets_cache[self._cache_key] = cached
        else:
            self._client.set_markets(list(cached[1].values()))
        self._restore_market_indexes()
        self._markets_loaded = True

    def _restore_market_indexes(self) -> None:
        """ccxt's kraken resolves the pair names in order answers ("XBTUSD", an altname, not the
        market id "XXBTZUSD") through an index only its fetch_markets() builds. Markets set from
        our cache or a file lack it, so orders would come back without a symbol, and a listing
        scoped to a symbol would silently drop them (a lookup by client id would miss the order)."""
        options = self._client.options
        if isinstance(options, dict) and "marketsByAltname" in options:
            options["marketsByAltname"] = {m["altname"]: m for m in self._client.markets.values() if m.get("altname")}

    def _step(self, value: Any) -> Decimal:
        if value is None:
            return Decimal(0)
        if self._client.precisionMode == _DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(value))
        return _d(value)

    def _order(self, raw: dict[str, Any], symbol: str | None = None) -> ExchangeOrder:
        """Our view of a ccxt order; `symbol` stands in when the answer does not name the market."""
        filled = _d(raw.get("filled"))
        cost = raw.get("cost")
        if cost is None and raw.get("average") is not None:
            cost = _d(raw["average"]) * filled
        fee = raw.get("fee") or {}
        return ExchangeOrder(
            exchange_order_id=str(raw["id"]),
            client_order_id=raw.get("clientOrderId"),
            symbol=raw.get("symbol") or symbol or "",
            side=raw["side"],
            type=raw.get("type") or "limit",
            amount=_d(raw.get("amount")),
            price=_d_or_none(raw.get("price")),
            status=_STATUS.get(str(raw.get("status")), ExchangeOrderStatus.OPEN),
            filled=filled,
            cost=_d(cost),
            fee_cost=_d(fee.get("cost")),
            fee_currency=fee.get("currency"),
            timestamp_ms=raw.get("timestamp"),
            raw_status=str(raw.get("status")),
        )

    # ------------------------------------------------------------------ the interface
    def markets(self) -> dict[str, Market]:
        self._ensure_markets()
        result = {}
        for symbol, m in self._client.markets.items():
            limits = m.get("limits") or {}
            result[symbol] = Market(
                symbol=symbol,
                base=m["base"],
                quote=m["quote"],
                amount_step=self._step((m.get("precision") or {}).get("amount")),
                price_step=self._step((m.get("precision") or {}).get("price")),
                min_amount=_d((limits.get("amount") or {}).get("min")),
                max_amount=_d_or_none((limits.get("amount") or {}).get("max")),
                min_cost=_d((limits.get("cost") or {}).get("min")),
                active=m.get("active") is not False,
            )
        return result

    def market(self, symbol: str) -> Market:
        markets = self.markets()
        if symbol not in markets:
            from shared.errors import ExchangeRejected

            raise ExchangeRejected(f"{self.exchange_id} has no market {symbol}", reason="bad_symbol")
        return markets[symbol]

    @tracer.capture_method(capture_response=False)
    def fetch_ticker(self, symbol: str) -> Ticker:
        self._ensure_markets()
        raw = self._call(lambda: self._client.fetch_ticker(symbol))
        return Ticker(
            symbol=symbol,
            last=_d(raw.get("last") or raw.get("close")),
            bid=_d_or_none(raw.get("bid")),
            ask=_d_or_none(raw.get("ask")),
            timestamp_ms=int(raw.get("timestamp") or time.time() * 1000),
        )

    @tracer.capture_method(capture_response=False)
    def fetch_ohlcv(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        self._ensure_markets()
        rows = self._call(lambda: self._client.fetch_ohlcv(symbol, timeframe, limit=limit))
        return [Candle(int(r[0]), _d(r[1]), _d(r[2]), _d(r[3]), _d(r[4]), _d(r[5])) for r in rows]

    def fetch_ohlcv_since(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[Candle]:
        """Up to `limit` candles opening at or after `since_ms`, oldest first: one page of history
        (shared.market_data.history pages through a range with it)."""
        self._ensure_markets()
        rows = self._call(lambda: self._client.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=limit))
        return [Candle(int(r[0]), _d(r[1]), _d(r[2]), _d(r[3]), _d(r[4]), _d(r[5])) for r in rows]

    @tracer.capture_method(capture_response=False)
    def fetch_balance(self) -> dict[str, AssetBalance]:
        self._ensure_markets()
        raw = self._call(self._client.fetch_balance)
        free, used = raw.get("free") or {}, raw.get("used") or {}
        assets = set(free) | set(used)
        return {
            a: AssetBalance(_d(free.get(a)), _d(used.get(a)))
            for a in sorted(assets)
            if _d(free.get(a)) or _d(used.get(a))
        }

    @tracer.capture_method(capture_response=False)
    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        self._ensure_markets()
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        # Stop-loss and take-profit are never sent: the platform manages them itself (see
        # shared.orders.reconciliation), the same way on every exchange; on some ccxt classes these
        # params would turn the order itself into a stop order.
        price = str(request.price) if request.price is not None else None
        raw = self._call(
            lambda: self._client.create_order(
                request.symbol, request.type, request.side, str(request.amount), price, params
            ),
            creating=True,
        )
        order = self._with_client_id(self._order(raw, request.symbol), request.client_order_id)
        if self.quirks.create_returns_state:
            return order
        # The answer proves the order exists but not its state: read it once, so a market order
        # that filled at once is recorded as filled. If that read fails, the accepted order stands
        # as OPEN and the reconciler learns the rest.
        thin = ExchangeOrder(**{**order.__dict__, "status": ExchangeOrderStatus.OPEN, "raw_status": "accepted"})
        try:
            fresh = self._call(
                lambda: self._client.fetch_order(order.exchange_order_id, request.symbol, {}),
                missing=self.quirks.missing_order_errors,
            )
        except AppError:
            return thin
        return self._with_client_id(self._order(fresh, request.symbol), request.client_order_id)

    @staticmethod
    def _with_client_id(order: ExchangeOrder, client_order_id: str) -> ExchangeOrder:
        if order.client_order_id is not None:
            return order
        return ExchangeOrder(**{**order.__dict__, "client_order_id": client_order_id})

    @tracer.capture_method(capture_response=False)
    def fetch_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        self._ensure_markets()
        if exchange_order_id:
            raw = self._call(
                lambda: self._client.fetch_order(exchange_order_id, symbol, {}),
                missing=self.quirks.missing_order_errors,
            )
            return self._order(raw, symbol)
        if client_order_id is None:
            raise ValueError("an exchange order id or a client order id is needed")
        if not self.quirks.fetch_by_client_id:
            return self._find_by_client_id(symbol, client_order_id)
        params = dict.fromkeys(self.quirks.client_id_params, client_order_id)
        raw = self._call(lambda: self._client.fetch_order(None, symbol, params))
        return self._order(raw, symbol)

    def _find_by_client_id(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        """The order with our client id among open orders, else the most recent closed one.

        Open first: an order that closes between the two calls is still seen by the second,
        whereas closed-then-open would miss it. Matches are checked here as well as filtered by
        the exchange, in case a filter is ignored. ExchangeOrderNotFound when neither has it."""

        def matching(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in rows if r.get("clientOrderId") == client_order_id]

        found = matching(
            self._call(lambda: self._client.fetch_open_orders(symbol, None, None, {"clientOrderId": client_order_id}))
        )
        if not found:
            since = int(self._client.milliseconds()) - CLIENT_ID_LOOKBACK_MS
            found = matching(
                self._call(
                    lambda: self._client.fetch_closed_orders(symbol, since, None, {"clientOrderId": client_order_id})
                )
            )
        if not found:
            raise ExchangeOrderNotFound("the exchange does not know this order")
        latest = max(found, key=lambda r: int(r.get("timestamp") or 0))
        return self._order(latest, symbol)

    @tracer.capture_method(capture_response=False)
    def cancel_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        self._ensure_markets()
        params = {} if exchange_order_id else dict.fromkeys(self.quirks.client_id_params, client_order_id)
        raw = self._call(lambda: self._client.cancel_order(exchange_order_id, symbol, params))
        if self.quirks.cancel_returns_order:
            return self._order(raw, symbol)
        # The answer only says the cancel was taken: read the order for its final state and fills.
        return self.fetch_order(symbol, exchange_order_id=exchange_order_id, client_order_id=client_order_id)

    @tracer.capture_method(capture_response=False)
    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        self._ensure_markets()
        rows = self._call(lambda: self._client.fetch_open_orders(symbol))
        return [self._order(r, symbol) for r in rows]
