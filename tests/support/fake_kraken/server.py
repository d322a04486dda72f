"""A fake Kraken spot REST server for tests: real HTTP on 127.0.0.1, real request signing.

ccxt's ``kraken`` class talks to it unchanged (see :func:`tests.support.fake_kraken.client.
make_ccxt_kraken`), so tests exercise ccxt's real request building, signing (HMAC-SHA512 over the
path and SHA-256 of nonce + body), response parsing and error mapping. The server records every
request and can inject the failures the platform must survive (see
:mod:`tests.support.fake_kraken.faults`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.support.fake_http import LocalHttpServer
from tests.support.fake_kraken.engine import (
    INVALID_ORDER,
    UNKNOWN_ORDER,
    ZERO,
    FakeOrder,
    KrakenError,
    SpotExchange,
    kraken_asset,
    load_markets,
)
from tests.support.fake_kraken.faults import (
    DEFAULT_5XX_BODY,
    INVALID_NONCE,
    Endpoint,
    Fault,
    FaultKind,
    FaultPlan,
)

DEFAULT_API_KEY = "fake-kraken-api-key"
DEFAULT_SECRET = base64.b64encode(b"fake-kraken-secret-" + b"\x00" * 45).decode()
DEFAULT_BALANCES: Mapping[str, str] = {"USD": "100000", "USDT": "100000", "BTC": "2", "ETH": "20"}
DEFAULT_PRICES: Mapping[str, str] = {"BTC/USD": "60000", "BTC/USDT": "60000", "ETH/USD": "3000",
                                     "ETH/USDT": "3000"}
Json = dict[str, Any] | list[Any]


def new_secret() -> str:
    """A random API secret in Kraken's form: base64 of 64 bytes."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def kraken_signature(secret: str, url_path: str, nonce: str, raw_body: str) -> str:
    """Kraken's API-Sign: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))."""
    digest = hashlib.sha256((nonce + raw_body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), url_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class RecordedRequest:
    """One request as the server received it, plus how it was judged and answered.

    ``api_key_valid``/``signature_valid`` are None when no key / no signature header was sent;
    ``nonce_valid`` is None when the request was not authenticated far enough to check it.
    ``status`` and ``errors`` (Kraken's error strings answered) are filled in once decided.
    """

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, str]
    headers: dict[str, str]
    raw_query: str
    raw_body: str
    received_ms: int
    endpoint: Endpoint | None
    api_key_valid: bool | None
    signature_valid: bool | None
    nonce: int | None = None
    nonce_valid: bool | None = None
    fault: FaultKind | None = None
    status: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        """Query and body parameters together."""
        return {**self.query, **self.body}


@dataclass
class _Answer:
    status: int
    body: Json | str
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


def _ok(result: Json) -> _Answer:
    return _Answer(200, {"error": [], "result": result})


def _error(message: str, status: int = 200) -> _Answer:
    return _Answer(status, {"error": [message]})


@dataclass(frozen=True)
class _Route:
    endpoint: Endpoint
    action: Callable[[Mapping[str, str], Fault | None], Json]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


@dataclass(repr=False)
class FakeKraken(LocalHttpServer):
    """The fake exchange. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Test-facing API: :attr:`faults`, :meth:`set_price`, :meth:`set_ohlc`, :meth:`set_balance`,
    :meth:`balance`, :meth:`fill_order`, :attr:`orders`, :meth:`order`,
    :meth:`orders_with_client_id`, :attr:`requests`, :meth:`order_requests`, :meth:`requests_to`.
    """

    api_key: str = DEFAULT_API_KEY
    secret: str = DEFAULT_SECRET
    initial_balances: Mapping[str, str | Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    initial_prices: Mapping[str, str | Decimal] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    taker_fee: Decimal = Decimal("0.004")
    maker_fee: Decimal = Decimal("0.0025")
    faults: FaultPlan = field(default_factory=FaultPlan)

    def __post_init__(self) -> None:
        base64.b64decode(self.secret, validate=True)  # Kraken secrets are base64
        self.markets = load_markets()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._last_nonce: dict[str, int] = {}
        self._exchange = SpotExchange(
            self.markets,
            {asset: Decimal(amount) for asset, amount in self.initial_balances.items()},
            {symbol: Decimal(price) for symbol, price in self.initial_prices.items()},
            self.taker_fee,
            self.maker_fee,
            self.now_ms,
        )
        self._routes = {
            route.endpoint: route
            for route in (
                _Route(Endpoint.TIME, lambda _p, _f: self._time()),
                _Route(Endpoint.SYSTEM_STATUS, lambda _p, _f: self._status()),
                _Route(Endpoint.ASSET_PAIRS, lambda p, _f: self._exchange.asset_pairs(p)),
                _Route(Endpoint.TICKER, lambda p, _f: self._exchange.ticker(p)),
                _Route(Endpoint.OHLC, lambda p, _f: self._exchange.ohlc(p)),
                _Route(Endpoint.BALANCE, lambda _p, _f: self._exchange.balance()),
                _Route(Endpoint.BALANCE_EX, lambda _p, _f: self._exchange.balance_ex()),
                _Route(Endpoint.ADD_ORDER, self._add_order),
                _Route(Endpoint.QUERY_ORDERS, lambda p, _f: self._read(p, "query")),
                _Route(Endpoint.OPEN_ORDERS, lambda p, _f: self._read(p, "open")),
                _Route(Endpoint.CLOSED_ORDERS, lambda p, _f: self._read(p, "closed")),
                _Route(Endpoint.CANCEL_ORDER, lambda p, _f: self._exchange.cancel_order(p)),
            )
        }

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "stopped"
        return f"FakeKraken({where}, {len(self._exchange.orders)} orders, {len(self._requests)} requests)"

    # -- lifecycle: tests.support.fake_http.LocalHttpServer -----------------------------------

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    # -- test controls -----------------------------------------------------------------------

    def set_price(self, symbol: str, price: str | Decimal | float) -> None:
        """The price market orders fill at and tickers report (does not fill resting orders)."""
        with self._lock:
            rules = self._exchange.rules_for(symbol)
            self._exchange.prices[rules.pair_id] = Decimal(str(price))

    def set_ohlc(self, symbol: str, closes: list[str | Decimal | float]) -> None:
        """Candle closes, oldest first; the current candle closes at ``closes[-1]``."""
        with self._lock:
            rules = self._exchange.rules_for(symbol)
            self._exchange.closes_override[rules.pair_id] = [Decimal(str(c)) for c in closes]

    def set_balance(self, asset: str, free: str | Decimal | float) -> None:
        """Set an asset's free balance (unified "BTC" or Kraken "XXBT"); what is held stays held."""
        with self._lock:
            code = kraken_asset(asset)
            held = self._exchange.held.setdefault(code, ZERO)
            self._exchange.total[code] = Decimal(str(free)) + held

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """``(free, held)`` of an asset."""
        with self._lock:
            code = kraken_asset(asset)
            return self._exchange.free(code), self._exchange.held.get(code, ZERO)

    def fill_order(
        self, ref: str, qty: str | Decimal | None = None, price: str | Decimal | None = None
    ) -> FakeOrder:
        """Fill an open order, by txid or cl_ord_id, fully or ``qty`` of it, at its limit price or
        a better ``price`` (as a maker). Returns a snapshot of the order."""
        with self._lock:
            order = self._exchange.fill(
                ref, None if qty is None else Decimal(str(qty)), None if price is None else Decimal(str(price))
            )
            return copy.deepcopy(order)

    @property
    def orders(self) -> list[FakeOrder]:
        """Snapshots of every order the exchange accepted, oldest first."""
        with self._lock:
            return copy.deepcopy(self._exchange.orders)

    def order(self, ref: str) -> FakeOrder:
        """A snapshot of one order, by txid or cl_ord_id (the open one if any)."""
        with self._lock:
            return copy.deepcopy(self._exchange.find_order(ref))

    def orders_with_client_id(self, client_order_id: str) -> list[FakeOrder]:
        """Every order ever accepted with this cl_ord_id, oldest first."""
        return [o for o in self.orders if o.cl_ord_id == client_order_id]

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint is endpoint]

    def order_requests(self) -> list[RecordedRequest]:
        """Every AddOrder received (accepted or not)."""
        return self.requests_to(Endpoint.ADD_ORDER)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- request handling (called from server threads) ---------------------------------------

    def _time(self) -> Json:
        now = self.now_ms() / 1000
        return {"unixtime": int(now), "rfc1123": formatdate(now, usegmt=True)}

    def _status(self) -> Json:
        return {"status": "online", "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def _add_order(self, params: Mapping[str, str], fault: Fault | None) -> Json:
        forced = fault is not None and fault.kind is FaultKind.INSUFFICIENT_FUNDS
        return self._exchange.add_order(params, force_insufficient=forced)

    def _read(self, params: Mapping[str, str], kind: str) -> Json:
        """QueryOrders / OpenOrders / ClosedOrders; a read that asks for particular orders and
        would find some takes an ORDER_LOOKUP fault (replica lag) and misses them."""
        asks = bool(params.get("txid")) if kind == "query" else bool(params.get("cl_ord_id") or params.get("userref"))
        hidden: frozenset[str] = frozenset()
        if asks:
            found = self._exchange.matches_for_lookup(params, kind)
            if found and self.faults.take(Endpoint.ORDER_LOOKUP, fallback=False) is not None:
                hidden = frozenset(o.txid for o in found)
        if kind == "query":
            return self._exchange.query_orders(params, hidden)
        if kind == "open":
            return self._exchange.open_orders(params, hidden)
        return self._exchange.closed_orders(params, hidden)

    def _record(
        self, method: str, raw_path: str, raw_query: str, raw_body: str, headers: dict[str, str]
    ) -> RecordedRequest:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        content_type = _header(headers, "Content-Type") or ""
        body: dict[str, str] = {}
        if raw_body and "json" in content_type:
            try:
                parsed = json.loads(raw_body)
            except ValueError:
                parsed = {}
            body = {k: v if isinstance(v, str) else json.dumps(v) for k, v in dict(parsed).items()}
        elif raw_body:
            body = dict(parse_qsl(raw_body, keep_blank_values=True))
        sent_key = _header(headers, "API-Key")
        sent_sign = _header(headers, "API-Sign")
        signature_valid: bool | None = None
        nonce = body.get("nonce")
        if sent_sign is not None:
            expected = kraken_signature(self.secret, raw_path, nonce or "", raw_body)
            try:
                signature_valid = hmac.compare_digest(base64.b64decode(sent_sign), base64.b64decode(expected))
            except (binascii.Error, ValueError):
                signature_valid = False
        record = RecordedRequest(
            method=method,
            path=raw_path,
            query=query,
            body=body,
            headers=headers,
            raw_query=raw_query,
            raw_body=raw_body,
            received_ms=self.now_ms(),
            endpoint=Endpoint.lookup(method, raw_path),
            api_key_valid=None if sent_key is None else hmac.compare_digest(sent_key, self.api_key),
            signature_valid=signature_valid,
            nonce=int(nonce) if nonce and nonce.isdigit() else None,
        )
        with self._lock:
            self._requests.append(record)
        return record

    def _check_auth(self, record: RecordedRequest) -> None:
        """Kraken's checks for private endpoints, in its order: key, signature, nonce. A nonce
        must be greater than every nonce accepted before for the key."""
        if not record.api_key_valid:
            raise KrakenError("EAPI:Invalid key")
        if not record.signature_valid:
            raise KrakenError("EAPI:Invalid signature")
        with self._lock:
            last = self._last_nonce.get(self.api_key, 0)
            record.nonce_valid = record.nonce is not None and record.nonce > last
            if not record.nonce_valid:
                raise KrakenError(INVALID_NONCE)
            assert record.nonce is not None
            self._last_nonce[self.api_key] = record.nonce

    def _answer(self, record: RecordedRequest) -> _Answer:
        """Decide the answer: auth, then the queued fault (if any), then the real action."""
        route = self._routes.get(record.endpoint) if record.endpoint is not None else None
        if route is None:
            return _error("EGeneral:Unknown method", status=404)
        try:
            if route.endpoint.private:
                self._check_auth(record)
            fault = self.faults.take(route.endpoint)
            record.fault = fault.kind if fault is not None else None
            return self._run(route, record.params, fault)
        except KrakenError as error:
            return _error(error.message)

    def _execute(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> _Answer:
        """The real action, under the lock, as a result or Kraken's error envelope."""
        with self._lock:
            try:
                return _ok(route.action(params, fault))
            except KrakenError as error:
                return _error(error.message)

    def _run(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> _Answer:
        if fault is None or (fault.kind is FaultKind.INSUFFICIENT_FUNDS and route.endpoint is Endpoint.ADD_ORDER):
            return self._execute(route, params, fault)
        if fault.kind is FaultKind.NOT_FOUND:
            return self._not_found(route.endpoint)
        real = self._execute(route, params, fault) if fault.execute else None
        if fault.kind is FaultKind.ACCEPT_THEN_TIMEOUT:
            # the real answer, too late for the client; never carried out: a gateway timeout
            late = real if real is not None else _Answer(504, "")
            return _Answer(late.status, late.body, late.headers, delay_s=fault.delay_s)
        if fault.kind is FaultKind.SERVER_ERROR or fault.http_status != 200:
            body = fault.body if fault.body is not None else DEFAULT_5XX_BODY.format(status=fault.http_status)
            return _Answer(fault.http_status, body, headers=fault.headers)
        return _error(fault.message or "EGeneral:Internal error")

    @staticmethod
    def _not_found(endpoint: Endpoint) -> _Answer:
        if endpoint is Endpoint.OPEN_ORDERS:
            return _ok({"open": {}})
        if endpoint is Endpoint.CLOSED_ORDERS:
            return _ok({"closed": {}, "count": 0})
        return _error(UNKNOWN_ORDER if endpoint is Endpoint.CANCEL_ORDER else INVALID_ORDER)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :meth:`FakeKraken._answer` calls. One connection per request
    (HTTP/1.0), which keeps a timed-out client from reusing a connection that is still busy."""

    fake: FakeKraken
    server_version = "fake-kraken"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines on stderr."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode() if length else ""
        record = self.fake._record(method, raw_path, raw_query, raw_body, dict(self.headers.items()))
        answer = self.fake._answer(record)
        record.status = answer.status
        if isinstance(answer.body, dict):
            record.errors = list(answer.body.get("error") or [])
        if answer.delay_s > 0 and self.fake._stopping.wait(answer.delay_s):
            return  # the server is stopping: drop the held answer
        payload = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        content_type = "text/html" if isinstance(answer.body, str) else "application/json; charset=utf-8"
        data = payload.encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired): nothing to tell it


FakeKraken.handler_class = _Handler
FakeKraken.thread_name = "fake-kraken"
