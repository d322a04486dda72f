"""What every fake exchange server shares: a local HTTP lifecycle, request recording, the
answer plumbing, endpoint tables and per-endpoint fault queues.

The exchange-specific parts (routes, signing, the order book, the fault kinds) live in each fake;
this module keeps the plumbing in one place so the fakes differ only where the exchanges do.
"""

from __future__ import annotations

import copy
import hmac
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.fake_book import SpotBook

E = TypeVar("E")  # an exchange's Endpoint enum
F = TypeVar("F")  # an exchange's Fault


class LocalHttpServer:
    """Serve `handler_class` (which reaches the fake through its `fake` attribute) on a free port
    of 127.0.0.1 from a daemon thread. Subclasses set `_stopping` in their own initialiser."""

    handler_class: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str]
    _stopping: threading.Event
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("already started")
        handler = type("_BoundHandler", (self.handler_class,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held by an injected delay are released immediately."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; the exchange's paths hang below it."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class _Slot[F]:
    fault: F
    remaining: int


@dataclass
class FaultQueues[E, F]:
    """Per-endpoint queues of faults, shared between the test thread and the server threads. A
    fault queued with ``times=N`` applies to the next N requests of its endpoint."""

    _queues: dict[E, deque[_Slot[F]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, endpoint: E, fault: F, times: int = 1) -> Self:
        """Apply ``fault`` to the next ``times`` requests of ``endpoint`` (after queued ones)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queues.setdefault(endpoint, deque()).append(_Slot(fault, times))
        return self

    def pending(self, endpoint: E) -> int:
        """How many requests of ``endpoint`` will still be faulted."""
        with self._lock:
            return sum(slot.remaining for slot in self._queues.get(endpoint, ()))

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._queues.clear()

    def _take(self, *keys: Any) -> F | None:
        """Consume one request's fault from the first of `keys` with one queued."""
        with self._lock:
            for key in keys:
                queue = self._queues.get(key)
                if not queue:
                    continue
                slot = queue[0]
                slot.remaining -= 1
                if slot.remaining == 0:
                    queue.popleft()
                return slot.fault
        return None


def pointed_ccxt_client(
    exchange_class: Any,
    server: Any,
    api_key: str | None,
    secret: str | None,
    *,
    timeout_ms: int,
    enable_rate_limit: bool,
) -> Any:
    """A real ccxt client whose every API base URL keeps its path but moves to `server`'s host,
    so nothing can reach the real exchange; credentials default to the server's own, and the
    start-up calls ccxt can make (server time, currencies) are off."""
    exchange = exchange_class(
        {
            "apiKey": server.api_key if api_key is None else api_key,
            "secret": server.secret if secret is None else secret,
            "timeout": timeout_ms,
            "enableRateLimit": enable_rate_limit,
        }
    )
    api_urls = exchange.urls["api"]
    for name, url in list(api_urls.items()):
        if isinstance(url, str):
            api_urls[name] = server.base_url + urlsplit(url).path
    exchange.options["adjustForTimeDifference"] = False
    exchange.options["fetchCurrencies"] = False
    exchange.has["fetchCurrencies"] = False
    return exchange


Json = dict[str, Any] | list[Any]
Scope = Literal["session", "package", "module", "class", "function"]


class HttpEndpoint(Enum):
    """Base of each fake's ``Endpoint`` enum: members are ``(method, path)`` pairs."""

    @property
    def method(self) -> str:
        method: str = self.value[0]
        return method

    @property
    def path(self) -> str:
        path: str = self.value[1]
        return path

    @classmethod
    def lookup(cls, method: str, path: str) -> Self | None:
        """The endpoint served at ``method path``, or None for paths the fake does not know."""
        return next((endpoint for endpoint in cls if endpoint.value == (method, path)), None)


@dataclass
class RecordedRequest[E, K]:
    """One request as a fake received it, plus how it was judged and answered.

    ``api_key_valid``/``signature_valid`` are None when no key / no signature was sent;
    ``fault`` is the kind of fault applied (if any) and ``status`` the HTTP status answered,
    filled in once the answer is decided (before any injected delay).
    """

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, str]
    headers: dict[str, str]
    raw_query: str
    raw_body: str
    received_ms: int
    endpoint: E | None
    api_key_valid: bool | None
    signature_valid: bool | None
    fault: K | None = None
    status: int | None = None

    @property
    def params(self) -> dict[str, str]:
        """Query and body parameters together."""
        return {**self.query, **self.body}


@dataclass
class Answer:
    """What a fake sends back: a JSON body (or an HTML/empty page), after ``delay_s``."""

    status: int
    body: Json | str
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


def held_answer(real: Answer | None, delay_s: float) -> Answer:
    """An accept-then-timeout answer: the real one, too late for the client; a request never
    carried out gets a gateway timeout."""
    late = real if real is not None else Answer(504, "")
    return Answer(late.status, late.body, late.headers, delay_s=delay_s)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, matched case-insensitively."""
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


class FakeExchangeServer[B: SpotBook[Any, Any]](LocalHttpServer):
    """The test-facing bookkeeping every fake exchange shares: the request log, order snapshots,
    prices, candles and fills, all under one lock, over the fake's engine (``_exchange``)."""

    display_name: ClassVar[str]
    create_endpoint: ClassVar[HttpEndpoint]
    api_key_header: ClassVar[str]
    record_class: ClassVar[type[RecordedRequest[Any, Any]]]
    api_key: str
    _lock: threading.RLock
    _requests: list[Any]
    _exchange: B

    def _init_server(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._requests = []

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "stopped"
        book = self._exchange
        return f"{self.display_name}({where}, {len(book.orders)} orders, {len(self._requests)} requests)"

    def set_price(self, symbol: str, price: str | Decimal | float) -> None:
        """The price market orders fill at and tickers report (does not fill resting orders)."""
        book = self._exchange
        with self._lock:
            book.prices[book.market_key(symbol)] = Decimal(str(price))

    def set_closes(self, symbol: str, closes: list[str | Decimal | float]) -> None:
        """Candle closes, oldest first; the current candle closes at ``closes[-1]``."""
        book = self._exchange
        with self._lock:
            book.closes_override[book.market_key(symbol)] = [Decimal(str(c)) for c in closes]

    def fill_order(self, ref: Any, qty: str | Decimal | None = None, price: str | Decimal | None = None) -> Any:
        """Fill an open order, by exchange id or client id, fully or ``qty`` of it, at its limit
        price or a better ``price`` (as a maker). Returns a snapshot of the order."""
        book = self._exchange
        with self._lock:
            order = book.fill(
                ref, None if qty is None else Decimal(str(qty)), None if price is None else Decimal(str(price))
            )
            return copy.deepcopy(order)

    @property
    def orders(self) -> list[Any]:
        """Snapshots of every order the exchange accepted, oldest first."""
        book = self._exchange
        with self._lock:
            return copy.deepcopy(book.orders)

    def order(self, ref: Any) -> Any:
        """A snapshot of one order, by exchange id or client id (the open one if any)."""
        book = self._exchange
        with self._lock:
            return copy.deepcopy(book.find_order(ref))

    def orders_with_client_id(self, client_order_id: str) -> list[Any]:
        """Every order ever accepted with this client order id, oldest first."""
        return [o for o in self.orders if o.client_id == client_order_id]

    @property
    def requests(self) -> list[Any]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: Any) -> list[Any]:
        """The recorded requests of one endpoint."""
        return [r for r in self.requests if r.endpoint is endpoint]

    def order_requests(self) -> list[Any]:
        """Every order-create request received (accepted or not)."""
        return self.requests_to(self.create_endpoint)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, method: str, raw_path: str, raw_query: str, raw_body: str, headers: dict[str, str]) -> Any:
        """Record a request (from a server thread) as the fake's ``record_class`` and return it."""
        body, signature_valid, extra = self._read_request(raw_path, raw_query, raw_body, headers)
        sent_key = header(headers, self.api_key_header)
        key_valid = None if sent_key is None else hmac.compare_digest(sent_key, self.api_key)
        endpoint = type(self.create_endpoint).lookup(method, raw_path)
        record = self.record_class(
            method,
            raw_path,
            parse_form(raw_query),
            body,
            headers,
            raw_query,
            raw_body,
            self.now_ms(),
            endpoint,
            key_valid,
            signature_valid,
            **extra,
        )
        with self._lock:
            self._requests.append(record)
        return record

    def _read_request(
        self, raw_path: str, raw_query: str, raw_body: str, headers: dict[str, str]
    ) -> tuple[dict[str, str], bool | None, dict[str, Any]]:
        """The exchange's reading of a request: its body parameters, whether its signature is
        valid (None when none was sent), and any extra fields of the fake's record."""
        raise NotImplementedError

    def now_ms(self) -> int:
        """The exchange clock."""
        raise NotImplementedError

    def _answer(self, record: Any) -> Answer:
        raise NotImplementedError

    def _answered(self, record: Any, answer: Answer) -> None:
        """Note on the record how it was answered (before any delay)."""
        record.status = answer.status


class FakeHttpHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``fake._answer`` calls. One connection per request (HTTP/1.0),
    which keeps a timed-out client from reusing a connection that is still busy."""

    fake: Any
    json_content_type: ClassVar[str] = "application/json"

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
        self.fake._answered(record, answer)
        if answer.delay_s > 0 and self.fake._stopping.wait(answer.delay_s):
            return  # the server is stopping: drop the held answer
        payload = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        content_type = "text/html" if isinstance(answer.body, str) else self.json_content_type
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


def parse_form(raw: str) -> dict[str, str]:
    """A query string or form body as a dict (blank values kept)."""
    return dict(parse_qsl(raw, keep_blank_values=True))


@dataclass(frozen=True)
class ServerFixtureFactory[S: LocalHttpServer]:
    """Makes pytest fixtures for one fake server class; nothing is registered until a test module
    assigns a fixture it made, so no conftest is involved."""

    server_class: Callable[..., S]
    default_name: str

    def __call__(
        self, name: str | None = None, scope: Scope = "function", **server_kwargs: Any
    ) -> Callable[..., Iterator[S]]:
        """A fixture yielding a started server (built with ``server_kwargs``) and stopping it
        afterwards. Function scope by default, so faults, orders and nonces never leak."""

        @pytest.fixture(name=name or self.default_name, scope=scope)
        def _server() -> Iterator[S]:
            with self.server_class(**server_kwargs) as server:
                yield server

        return _server
