"""What every fake exchange server shares: a local HTTP lifecycle and per-endpoint fault queues.

The exchange-specific parts (routes, signing, the order book, the fault kinds) live in each fake;
this module keeps the plumbing in one place so the fakes differ only where the exchanges do.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import urlsplit

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
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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


def pointed_ccxt_client(exchange_class: Any, server: Any, api_key: str | None, secret: str | None, *,
                        timeout_ms: int, enable_rate_limit: bool) -> Any:
    """A real ccxt client whose every API base URL keeps its path but moves to `server`'s host,
    so nothing can reach the real exchange; credentials default to the server's own, and the
    start-up calls ccxt can make (server time, currencies) are off."""
    exchange = exchange_class({
        "apiKey": server.api_key if api_key is None else api_key,
        "secret": server.secret if secret is None else secret,
        "timeout": timeout_ms,
        "enableRateLimit": enable_rate_limit,
    })
    api_urls = exchange.urls["api"]
    for name, url in list(api_urls.items()):
        if isinstance(url, str):
            api_urls[name] = server.base_url + urlsplit(url).path
    exchange.options["adjustForTimeDifference"] = False
    exchange.options["fetchCurrencies"] = False
    exchange.has["fetchCurrencies"] = False
    return exchange
