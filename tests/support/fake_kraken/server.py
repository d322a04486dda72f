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
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formatdate
from typing import Any, ClassVar

from tests.support.fake_http import Answer, FakeExchangeServer, FakeHttpHandler, Json, header, held_answer, parse_form
from tests.support.fake_http import RecordedRequest as _RecordedRequest
from tests.support.fake_kraken.engine import (
    INVALID_ORDER,
    UNKNOWN_ORDER,
    ZERO,
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
DEFAULT_PRICES: Mapping[str, str] = {"BTC/USD": "60000", "BTC/USDT": "60000", "ETH/USD": "3000", "ETH/USDT": "3000"}


def new_secret() -> str:
    """A random API secret in Kraken's form: base64 of 64 bytes."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def kraken_signature(secret: str, url_path: str, nonce: str, raw_body: str) -> str:
    """Kraken's API-Sign: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))."""
    digest = hashlib.sha256((nonce + raw_body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), url_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class RecordedRequest(_RecordedRequest[Endpoint, FaultKind]):
    """One request as the fake Kraken received it. Beyond the shared fields: the ``nonce`` sent,
    ``nonce_valid`` (None when the request was not authenticated far enough to check it) and
    ``errors``, Kraken's error strings answered."""

    nonce: int | None = None
    nonce_valid: bool | None = None
    errors: list[str] = field(default_factory=list)


def _ok(result: Json) -> Answer:
    return Answer(200, {"error": [], "result": result})


def _error(message: str, status: int = 200) -> Answer:
    return Answer(status, {"error": [message]})


@dataclass(frozen=True)
class _Route:
    endpoint: Endpoint
    action: Callable[[Mapping[str, str], Fault | None], Json]


@dataclass(repr=False)
class FakeKraken(FakeExchangeServer[SpotExchange]):
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
    thread_name: ClassVar[str] = "fake-kraken"
    display_name: ClassVar[str] = "FakeKraken"
    create_endpoint: ClassVar[Endpoint] = Endpoint.ADD_ORDER
    record_class: ClassVar[type[RecordedRequest]] = RecordedRequest
    api_key_header: ClassVar[str] = "API-Key"

    def __post_init__(self) -> None:
        base64.b64decode(self.secret, validate=True)  # Kraken secrets are base64
        self.markets = load_markets()
        self._init_server()
        self._last_nonce: dict[str, int] = {}
        fees = (self.taker_fee, self.maker_fee)
        self._exchange = SpotExchange(self.markets, self.initial_balances, self.initial_prices, fees, self.now_ms)
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

    # -- lifecycle: tests.support.fake_http.LocalHttpServer -----------------------------------

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    # -- test controls -----------------------------------------------------------------------

    set_ohlc = FakeExchangeServer.set_closes

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

    def _read_request(
        self, raw_path: str, raw_query: str, raw_body: str, headers: dict[str, str]
    ) -> tuple[dict[str, str], bool | None, dict[str, Any]]:
        """The body (form or JSON), whether its API-Sign is valid (None: none sent) and its nonce."""
        content_type = header(headers, "Content-Type") or ""
        body: dict[str, str] = {}
        if raw_body and "json" in content_type:
            try:
                parsed = json.loads(raw_body)
            except ValueError:
                parsed = {}
            body = {k: v if isinstance(v, str) else json.dumps(v) for k, v in dict(parsed).items()}
        elif raw_body:
            body = parse_form(raw_body)
        sent_sign = header(headers, "API-Sign")
        signature_valid: bool | None = None
        nonce = body.get("nonce")
        if sent_sign is not None:
            expected = kraken_signature(self.secret, raw_path, nonce or "", raw_body)
            try:
                signature_valid = hmac.compare_digest(base64.b64decode(sent_sign), base64.b64decode(expected))
            except (binascii.Error, ValueError):
                signature_valid = False
        return body, signature_valid, {"nonce": int(nonce) if nonce and nonce.isdigit() else None}

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

    def _answer(self, record: RecordedRequest) -> Answer:
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

    def _execute(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> Answer:
        """The real action, under the lock, as a result or Kraken's error envelope."""
        with self._lock:
            try:
                return _ok(route.action(params, fault))
            except KrakenError as error:
                return _error(error.message)

    def _run(self, route: _Route, params: Mapping[str, str], fault: Fault | None) -> Answer:
        if fault is None or (fault.kind is FaultKind.INSUFFICIENT_FUNDS and route.endpoint is Endpoint.ADD_ORDER):
            return self._execute(route, params, fault)
        if fault.kind is FaultKind.NOT_FOUND:
            return self._not_found(route.endpoint)
        real = self._execute(route, params, fault) if fault.execute else None
        if fault.kind is FaultKind.ACCEPT_THEN_TIMEOUT:
            return held_answer(real, fault.delay_s)
        if fault.kind is FaultKind.SERVER_ERROR or fault.http_status != 200:
            body = fault.body if fault.body is not None else DEFAULT_5XX_BODY.format(status=fault.http_status)
            return Answer(fault.http_status, body, headers=fault.headers)
        return _error(fault.message or "EGeneral:Internal error")

    def _answered(self, record: RecordedRequest, answer: Answer) -> None:
        """Note the status and Kraken's error strings answered."""
        super()._answered(record, answer)
        if isinstance(answer.body, dict):
            record.errors = list(answer.body.get("error") or [])

    @staticmethod
    def _not_found(endpoint: Endpoint) -> Answer:
        if endpoint is Endpoint.OPEN_ORDERS:
            return _ok({"open": {}})
        if endpoint is Endpoint.CLOSED_ORDERS:
            return _ok({"closed": {}, "count": 0})
        return _error(UNKNOWN_ORDER if endpoint is Endpoint.CANCEL_ORDER else INVALID_ORDER)


class _Handler(FakeHttpHandler):
    """Kraken's JSON content type over the shared request handling."""

    json_content_type = "application/json; charset=utf-8"
    server_version = "fake-kraken"


FakeKraken.handler_class = _Handler
