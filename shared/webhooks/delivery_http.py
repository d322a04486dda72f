"""One webhook delivery over HTTP: a POST to an address the SSRF guard has just approved.

- The host is resolved and checked again now (`ssrf.check_destination`), because the name may
  point somewhere else than when the subscription was saved (DNS rebinding), and the socket is
  opened to one of those checked addresses, never by name: a second lookup inside the HTTP
  library could answer differently. TLS still uses the host name (SNI, certificate check) and
  the Host header carries it, so the receiver sees an ordinary request.
- Redirects are never followed: a 3xx is just a non-2xx answer (its Location might be internal).
- One deadline for the whole exchange (connect, TLS, request, status and headers), enforced by
  a timer that shuts the socket down, so a receiver that drips bytes cannot hold a worker longer
  than `timeout_seconds` (a plain socket timeout restarts at every byte).
- Only the status and at most `response_cap` bytes of the body are read.
Standard library only (http.client, ssl, socket): pinning the address needs a custom connect,
which requests/httpx make no simpler, and the platform does not ship them for anything else.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.webhooks.ssrf import (
    CheckedDestination,
    DestinationRefused,
    DestinationUnresolvable,
    IPAddress,
    Resolver,
    check_destination,
    resolve_system,
)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_RESPONSE_CAP = 4096
USER_AGENT = "CryptoOrchestrator-Webhooks/1"
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
Connect = Callable[[tuple[str, int], float], socket.socket]


class DeliveryOutcome(StrEnum):
    """What happened; the dispatcher turns it into success, retry or disable."""

    DELIVERED = "delivered"  # 2xx
    GONE = "gone"  # 410: the receiver asks us to stop
    HTTP_ERROR = "http_error"  # any other status, 3xx included
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"  # refused, reset, malformed answer
    TLS_ERROR = "tls_error"  # handshake or certificate failure
    UNRESOLVABLE = "unresolvable"
    REFUSED = "refused"  # the SSRF guard refused the destination; nothing was sent


@dataclass(frozen=True)
class DeliveryResult:
    outcome: DeliveryOutcome
    status_code: int | None
    latency_ms: float
    error: str | None = None  # an exception class name or a refusal category; no secrets, no addresses
    response_excerpt: bytes = b""

    @property
    def succeeded(self) -> bool:
        return self.outcome is DeliveryOutcome.DELIVERED


class _Deadline:
    """Shuts the attached socket down when the time is up; whatever read or write is blocked on
    it then fails, and `expired` says why."""

    def __init__(self, seconds: float) -> None:
        self._expires_at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(0.001, self._expires_at - time.monotonic())

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address; `host` stays the name for the Host header."""

    def __init__(self, host: str, port: int, *, address: IPAddress, connect: Connect, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.remaining())
        self._address = address
        self._connect = connect
        self._deadline = deadline

    def _open_socket(self) -> socket.socket:
        sock = self._connect((str(self._address), self.port), self._deadline.remaining())
        self._deadline.attach(sock)
        return sock

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to a fixed address, with SNI and certificate verification against the host name."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: IPAddress,
        connect: Connect,
        deadline: _Deadline,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, address=address, connect=connect, deadline=deadline)
        self._context = context

    def connect(self) -> None:
        self.sock = self._context.wrap_socket(self._open_socket(), server_hostname=self.host)


def deliver(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_loopback_http: bool = False,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    response_cap: int = DEFAULT_RESPONSE_CAP,
    resolver: Resolver = resolve_system,
    connect: Connect = socket.create_connection,
    ssl_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """POST `body` with `headers` to `url`, if the guard allows its current addresses.

    Never raises for anything the receiver or the network does; the outcome says what happened.
    """
    started = time.perf_counter()

    def result(
        outcome: DeliveryOutcome, status: int | None = None, error: str | None = None, excerpt: bytes = b""
    ) -> DeliveryResult:
        return DeliveryResult(outcome, status, (time.perf_counter() - started) * 1000, error, excerpt)

    try:
        destination = check_destination(url, allow_loopback_http=allow_loopback_http, resolver=resolver)
    except DestinationUnresolvable:
        return result(DeliveryOutcome.UNRESOLVABLE, error="unresolvable")
    except DestinationRefused as refused:
        return result(DeliveryOutcome.REFUSED, error=refused.reason)

    with _Deadline(timeout_seconds) as deadline:
        outcome, status, error, excerpt = _post(
            destination, body, headers, deadline, connect, ssl_context, response_cap
        )
    return result(outcome, status, error, excerpt)


def _post(
    destination: CheckedDestination,
    body: bytes,
    headers: Mapping[str, str],
    deadline: _Deadline,
    connect: Connect,
    ssl_context: ssl.SSLContext | None,
    response_cap: int,
) -> tuple[DeliveryOutcome, int | None, str | None, bytes]:
    """Try the checked addresses in order until one accepts the connection, then send once."""
    url = destination.url
    request_headers = _request_headers(headers)
    last: tuple[DeliveryOutcome, int | None, str | None, bytes] = (
        DeliveryOutcome.CONNECTION_ERROR,
        None,
        "no address",
        b"",
    )
    for address in destination.addresses:
        conn: _PinnedHTTPConnection
        if url.scheme == "https":
            context = ssl_context or _default_ssl_context()
            conn = _PinnedHTTPSConnection(
                url.host, url.port, address=address, connect=connect, deadline=deadline, context=context
            )
        else:
            conn = _PinnedHTTPConnection(url.host, url.port, address=address, connect=connect, deadline=deadline)
        try:
            try:
                conn.connect()
            except (OSError, ssl.SSLError) as error:
                last = _classify(error, deadline)
                if deadline.expired or last[0] is DeliveryOutcome.TLS_ERROR:
                    return last
                continue  # the next checked address, if any
            try:
                conn.request("POST", url.target, body=body, headers=request_headers)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as error:
                return _classify(error, deadline)
            if deadline.expired:  # the shutdown can end a header block early and look like an answer
                return DeliveryOutcome.TIMEOUT, None, "timeout", b""
            try:
                excerpt = response.read(response_cap) if response_cap > 0 else b""
            except (OSError, http.client.HTTPException):
                excerpt = b""  # the status is the answer; a broken body does not change it
            status = response.status
            if 200 <= status < 300:
                return DeliveryOutcome.DELIVERED, status, None, excerpt
            if status == 410:
                return DeliveryOutcome.GONE, status, None, excerpt
            return DeliveryOutcome.HTTP_ERROR, status, None, excerpt
        finally:
            conn.close()
    return last


def _request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Ours plus the caller's, one spelling per name; framing headers are http.client's to set
    (a caller's Host would send the request to the name instead of the checked address's host)."""
    merged = {"user-agent": ("User-Agent", USER_AGENT), "content-type": ("Content-Type", "application/json")}
    for name, value in headers.items():
        if name.lower() not in _FRAMING_HEADERS:
            merged[name.lower()] = (name, value)
    merged["connection"] = ("Connection", "close")
    return dict(merged.values())


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """Built once per process: loading the CA store costs milliseconds per delivery otherwise."""
    return ssl.create_default_context()


def _classify(error: BaseException, deadline: _Deadline) -> tuple[DeliveryOutcome, int | None, str | None, bytes]:
    if deadline.expired or isinstance(error, TimeoutError):
        return DeliveryOutcome.TIMEOUT, None, "timeout", b""
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return DeliveryOutcome.TLS_ERROR, None, type(error).__name__, b""
    return DeliveryOutcome.CONNECTION_ERROR, None, type(error).__name__, b""
