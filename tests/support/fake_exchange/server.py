"""A fake Binance spot REST server for tests: real HTTP on 127.0.0.1, real request signing.

ccxt's ``binance`` class talks to it unchanged (see :func:`tests.support.fake_exchange.client.
make_ccxt_binance`), so tests exercise ccxt's real request building, signing, response parsing and
error mapping. The server records every request and can inject the failures the platform must
survive (see :mod:`tests.support.fake_exchange.faults`).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.support.fake_exchange.engine import (
    ZERO,
    BinanceError,
    FakeOrder,
    SpotExchange,
    load_markets,
    mandatory,
    order_does_not_exist,
    unknown_order,
)
from tests.support.fake_exchange.faults import (
    DEFAULT_5XX_BODY,
    Endpoint,
    Fault,
    FaultKind,
    FaultPlan,
)
from tests.support.fake_http import LocalHttpServer

DEFAULT_API_KEY = "fake-binance-api-key"
DEFAULT_SECRET = "fake-binance-secret"
DEFAULT_BALANCES: Mapping[str, str] = {"USDT": "10000", "BTC": "1", "ETH": "10", "SOL": "100"}
DEFAULT_PRICES: Mapping[str, str] = {"BTC/USDT": "60000", "ETH/USDT": "3000", "SOL/USDT": "150"}
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000

Json = dict[str, Any] | list[Any]


@dataclass
class RecordedRequest:
    """One request as the server received it, plus how it was judged and answered.

    ``api_key_valid``/``signature_valid`` are None when no key header / no signature was sent.
    ``status`` is filled in once the answer is decided (before any injected delay).
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
    fault: FaultKind | None = None
    status: int | None = None

    @property
    def params(self) -> dict[str, str]:
        """Query and body parameters together, as Binance reads them."""
        return {**self.query, **self.body}


@dataclass
class _Answer:
    status: int
    body: Json | str
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


@dataclass(frozen=True)
class _Route:
    endpoint: Endpoint
    signed: bool
    action: Callable[[Mapping[str, str], Fault | None], Json]


@dataclass
class _Credentials:
    api_key: str
    secret: str


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=`` parameter, and the signature (None if absent)."""
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part.removeprefix("signature=")
        else:
            kept.append(part)
    return "&".join(kept), signature


@dataclass(repr=False)
class FakeBinance(LocalHttpServer):
    """The fake exchange. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Test-facing API: :attr:`faults`, :meth:`set_price`, :meth:`set_klines`, :meth:`set_balance`,
    :meth:`balance`, :meth:`fill_order`, :attr:`orders`, :meth:`orders_with_client_id`,
    :attr:`requests`, :meth:`order_requests`, :meth:`requests_to`.
    """

    api_key: str = DEFAULT_API_KEY
    secret: str = DEFAULT_SECRET
    initial_balances: Mapping[str, str | Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    initial_prices: Mapping[str, str | Decimal] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    fee_rate: Decimal = Decimal("0.001")
    clock_offset_ms: int = 0
    faults: FaultPlan = field(default_factory=FaultPlan)

    def __post_init__(self) -> None:
        self.markets = load_markets()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._exchange = SpotExchange(
            self.markets,
            {asset: Decimal(amount) for asset, amount in self.initial_balances.items()},
            {symbol: Decimal(price) for symbol, price in self.initial_prices.items()},
            self.fee_rate,
            self.now_ms,
        )
        self._routes = {
            route.endpoint: route
            for route in (
                _Route(Endpoint.PING, False, lambda _p, _f: {}),
                _Route(Endpoint.TIME, False, lambda _p, _f: {"serverTime": self.now_ms()}),
                _Route(Endpoint.TICKER_24HR, False, lambda p, _f: self._exchange.ticker_24hr(p)),
                _Route(Endpoint.KLINES, False, lambda p, _f: self._exchange.klines(p)),
                _Route(Endpoint.ACCOUNT, True, lambda _p, _f: self._exchange.account()),
                _Route(Endpoint.CREATE_ORDER, True, self._create_order),
                _Route(Endpoint.FETCH_ORDER, True, lambda p, _f: self._exchange.query_order(p)),
                _Route(Endpoint.CANCEL_ORDER, True, lambda p, _f: self._exchange.cancel_order(p)),
                _Route(Endpoint.OPEN_ORDERS, True, lambda p, _f: self._exchange.open_orders(p)),
                _Route(Endpoint.MY_TRADES, True, lambda p, _f: self._exchange.my_trades(p)),
            )
        }

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "stopped"
        return f"FakeBinance({where}, {len(self._exchange.orders)} orders, {len(self._requests)} requests)"

    # -- lifecycle: tests.support.fake_http.LocalHttpServer -----------------------------------

    def now_ms(self) -> int:
        """The exchange clock (wall clock plus ``clock_offset_ms``, to simulate skew)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # -- test controls -----------------------------------------------------------------------

    def set_price(self, symbol: str, price: str | Decimal | float) -> None:
        """The price market orders fill at and tickers report (does not fill resting orders)."""
        with self._lock:
            rules = self._exchange.rules_for(symbol)
            self._exchange.prices[rules.market_id] = Decimal(str(price))

    def set_klines(self, symbol: str, closes: list[str | Decimal | float]) -> None:
        """Candle closes, oldest first; the current candle closes at ``closes[-1]``."""
        with self._lock:
            rules = self._exchange.rules_for(symbol)
            self._exchange.closes_override[rules.market_id] = [Decimal(str(c)) for c in closes]

    def set_balance(self, asset: str, free: str | Decimal | float) -> None:
        """Set an asset's free balance (its locked part is left as it is)."""
        with self._lock:
            self._exchange.free[asset] = Decimal(str(free))
            self._exchange.locked.setdefault(asset, ZERO)

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """``(free, locked)`` of an asset."""
        with self._lock:
            return self._exchange.free.get(asset, ZERO), self._exchange.locked.get(asset, ZERO)

    def fill_order(
        self, ref: int | str, qty: str | Decimal | None = None, price: str | Decimal | None = None
    ) -> FakeOrder:
        """Fill an open order, by exchange id (int) or client id (str), fully or ``qty`` of it,
        at its limit price or a better ``price``. Returns a snapshot of the order."""
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

    def order(self, ref: int | str) -> FakeOrder:
        """A snapshot of one order, by exchange id or client id (the open one if any)."""
        with self._lock:
            return copy.deepcopy(self._exchange.find_order(ref))

    def orders_with_client_id(self, client_order_id: str) -> list[FakeOrder]:
        """Every order ever accepted with this client order id, oldest first."""
        return [o for o in self.orders if o.client_order_id == client_order_id]

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        """The recorded requests of one endpoint."""
        return [r for r in self.requests if r.endpoint is endpoint]

    def order_requests(self) -> list[RecordedRequest]:
        """Every POST /api/v3/order received (accepted or not)."""
        return self.requests_to(Endpoint.CREATE_ORDER)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- request handling (called from server threads) ---------------------------------------

    def _create_order(self, params: Mapping[str, str], fault: Fault | None) -> Json:
        forced = fault is not None and fault.kind is FaultKind.INSUFFICIENT_FUNDS
        return self._exchange.create_order(params, force_insufficient=forced)

    def _record(
        self, method: str, raw_path: str, raw_query: str, raw_body: str, headers: dict[str, str]
    ) -> RecordedRequest:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        body = dict(parse_qsl(raw_body, keep_blank_values=True))
        sent_key = next((value for name, value in headers.items() if name.lower() == "x-mbx-apikey"), None)
        query_unsigned, query_sig = _strip_signature(raw_query)
        body_unsigned, body_sig = _strip_signature(raw_body)
        signature = query_sig if query_sig is not None else body_sig
        signature_valid: bool | None = None
        if signature is not None:
            # Binance signs "totalParams": the query string concatenated with the request body.
            expected = hmac.new(
                self.secret.encode(), (query_unsigned + body_unsigned).encode(), hashlib.sha256
            ).hexdigest()
            signature_valid = hmac.compare_digest(expected, signature.lower())
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
        )
        with self._lock:
            self._requests.append(record)
        return record

    def _check_auth(self, record: RecordedRequest) -> None:
        """Binance's checks for SIGNED endpoints, in its order: key, signature, timestamp."""
        if record.api_key_valid is None:
            raise BinanceError(401, -2014, "API-key format invalid.")
        if not record.api_key_valid:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        params = record.params
        if record.signature_valid is None:
            raise mandatory("signature")
        if not record.signature_valid:
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        timestamp = params.get("timestamp", "")
        if not timestamp.isdigit():
            raise mandatory("timestamp")
        recv_window = int(params["recvWindow"]) if params.get("recvWindow", "").isdigit() else DEFAULT_RECV_WINDOW_MS
        if recv_window > MAX_RECV_WINDOW_MS:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now = record.received_ms
        if int(timestamp) >= now + 1000:
            raise BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - int(timestamp) > recv_window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _answer(self, record: RecordedRequest) -> _Answer:
        """Decide the answer: auth, then the queued fault (if any), then the real action."""
        route = self._routes.get(record.endpoint) if record.endpoint is not None else None
        if route is None:
            return _Answer(404, "<html><body><h1>404 Not Found</h1></body></html>")
        try:
            if route.signed:
                self._check_auth(record)
            fault = self.faults.take(route.endpoint)
            record.fault = fault.kind if fault is not None else None
            return self._run(route, record.params, fault)
        except BinanceError as error:
            return _Answer(error.http_status, error.body())

    def _execute(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> _Answer:
        """The real action, under the lock, as a 200 or Binance's error answer."""
        with self._lock:
            try:
                return _Answer(200, route.action(params, fault))
            except BinanceError as error:
                return _Answer(error.http_status, error.body())

    def _run(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> _Answer:
        if fault is None or fault.kind is FaultKind.INSUFFICIENT_FUNDS:
            return self._execute(route, params, fault)
        if fault.kind is FaultKind.NOT_FOUND:
            error = unknown_order() if route.endpoint is Endpoint.CANCEL_ORDER else order_does_not_exist()
            return _Answer(error.http_status, error.body())
        real = self._execute(route, params, fault) if fault.execute else None
        if fault.kind is FaultKind.ACCEPT_THEN_TIMEOUT:
            # the real answer, too late for the client; never carried out: a gateway timeout
            late = real if real is not None else _Answer(504, "")
            return _Answer(late.status, late.body, late.headers, delay_s=fault.delay_s)
        body: Json | str
        body = fault.body if fault.body is not None else DEFAULT_5XX_BODY.format(status=fault.http_status)
        return _Answer(fault.http_status, body, headers=fault.headers)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :meth:`FakeBinance._answer` calls. One connection per request
    (HTTP/1.0), which keeps a timed-out client from reusing a connection that is still busy."""

    fake: FakeBinance
    server_version = "fake-binance"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines on stderr."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode() if length else ""
        record = self.fake._record(method, raw_path, raw_query, raw_body, dict(self.headers.items()))
        answer = self.fake._answer(record)
        record.status = answer.status
        if answer.delay_s > 0 and self.fake._stopping.wait(answer.delay_s):
            return  # the server is stopping: drop the held answer
        payload = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        content_type = "text/html" if isinstance(answer.body, str) else "application/json;charset=UTF-8"
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


FakeBinance.handler_class = _Handler
FakeBinance.thread_name = "fake-binance"
