"""A fake Binance spot REST server for tests: real HTTP on 127.0.0.1, real request signing.

ccxt's ``binance`` class talks to it unchanged (see :func:`tests.support.fake_exchange.client.
make_ccxt_binance`), so tests exercise ccxt's real request building, signing, response parsing and
error mapping. The server records every request and can inject the failures the platform must
survive (see :mod:`tests.support.fake_exchange.faults`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from tests.support.fake_exchange.engine import (
    ZERO,
    BinanceError,
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
from tests.support.fake_http import Answer, FakeExchangeServer, FakeHttpHandler, Json, held_answer, parse_form
from tests.support.fake_http import RecordedRequest as _RecordedRequest

DEFAULT_API_KEY = "fake-binance-api-key"
DEFAULT_SECRET = "fake-binance-secret"
DEFAULT_BALANCES: Mapping[str, str] = {"USDT": "10000", "BTC": "1", "ETH": "10", "SOL": "100"}
DEFAULT_PRICES: Mapping[str, str] = {"BTC/USDT": "60000", "ETH/USDT": "3000", "SOL/USDT": "150"}
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000


class RecordedRequest(_RecordedRequest[Endpoint, FaultKind]):
    """One request as the fake Binance received it (``params``: query and body, as Binance reads them)."""


@dataclass(frozen=True)
class _Route:
    endpoint: Endpoint
    signed: bool
    action: Callable[[Mapping[str, str], Fault | None], Json]


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
class FakeBinance(FakeExchangeServer[SpotExchange]):
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
    thread_name: ClassVar[str] = "fake-binance"
    display_name: ClassVar[str] = "FakeBinance"
    create_endpoint: ClassVar[Endpoint] = Endpoint.CREATE_ORDER
    record_class: ClassVar[type[RecordedRequest]] = RecordedRequest
    api_key_header: ClassVar[str] = "X-MBX-APIKEY"

    def __post_init__(self) -> None:
        self.markets = load_markets()
        self._init_server()
        self._exchange = SpotExchange(
            self.markets, self.initial_balances, self.initial_prices, self.fee_rate, self.now_ms
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

    # -- lifecycle: tests.support.fake_http.LocalHttpServer -----------------------------------

    def now_ms(self) -> int:
        """The exchange clock (wall clock plus ``clock_offset_ms``, to simulate skew)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # -- test controls -----------------------------------------------------------------------

    set_klines = FakeExchangeServer.set_closes

    def set_balance(self, asset: str, free: str | Decimal | float) -> None:
        """Set an asset's free balance (its locked part is left as it is)."""
        with self._lock:
            self._exchange.free[asset] = Decimal(str(free))
            self._exchange.locked.setdefault(asset, ZERO)

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """``(free, locked)`` of an asset."""
        with self._lock:
            return self._exchange.free.get(asset, ZERO), self._exchange.locked.get(asset, ZERO)

    # -- request handling (called from server threads) ---------------------------------------

    def _create_order(self, params: Mapping[str, str], fault: Fault | None) -> Json:
        forced = fault is not None and fault.kind is FaultKind.INSUFFICIENT_FUNDS
        return self._exchange.create_order(params, force_insufficient=forced)

    def _read_request(
        self, raw_path: str, raw_query: str, raw_body: str, headers: dict[str, str]
    ) -> tuple[dict[str, str], bool | None, dict[str, Any]]:
        """The form body and whether its HMAC-SHA256 signature is valid (None: none sent)."""
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
        return parse_form(raw_body), signature_valid, {}

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

    def _answer(self, record: RecordedRequest) -> Answer:
        """Decide the answer: auth, then the queued fault (if any), then the real action."""
        route = self._routes.get(record.endpoint) if record.endpoint is not None else None
        if route is None:
            return Answer(404, "<html><body><h1>404 Not Found</h1></body></html>")
        try:
            if route.signed:
                self._check_auth(record)
            fault = self.faults.take(route.endpoint)
            record.fault = fault.kind if fault is not None else None
            return self._run(route, record.params, fault)
        except BinanceError as error:
            return Answer(error.http_status, error.body())

    def _execute(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> Answer:
        """The real action, under the lock, as a 200 or Binance's error answer."""
        with self._lock:
            try:
                return Answer(200, route.action(params, fault))
            except BinanceError as error:
                return Answer(error.http_status, error.body())

    def _run(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> Answer:
        if fault is None or fault.kind is FaultKind.INSUFFICIENT_FUNDS:
            return self._execute(route, params, fault)
        if fault.kind is FaultKind.NOT_FOUND:
            error = unknown_order() if route.endpoint is Endpoint.CANCEL_ORDER else order_does_not_exist()
            return Answer(error.http_status, error.body())
        real = self._execute(route, params, fault) if fault.execute else None
        if fault.kind is FaultKind.ACCEPT_THEN_TIMEOUT:
            return held_answer(real, fault.delay_s)
        body: Json | str
        body = fault.body if fault.body is not None else DEFAULT_5XX_BODY.format(status=fault.http_status)
        return Answer(fault.http_status, body, headers=fault.headers)


class _Handler(FakeHttpHandler):
    """Binance's HTTP methods and JSON content type over the shared request handling."""

    json_content_type = "application/json;charset=UTF-8"
    server_version = "fake-binance"

    def do_DELETE(self) -> None:  # noqa: N802 - the http.server naming
        self._serve("DELETE")

    def do_PUT(self) -> None:  # noqa: N802 - the http.server naming
        self._serve("PUT")


FakeBinance.handler_class = _Handler
