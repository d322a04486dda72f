"""Fault injection for the fake Binance server.

Tests queue faults per endpoint; each request that reaches the endpoint (after passing
authentication, so a badly signed request never consumes one) takes the fault at the head of
the queue. A fault with ``times=N`` is applied to the next N requests, then the next queued fault
(if any) takes over. Faults exist because the platform must survive exactly these answers from
the real exchange: an order that exists although the client saw a timeout or a 5xx, an order that
is briefly invisible to lookups, rate limits and rejections.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from tests.support.fake_http import FaultQueues, HttpEndpoint


class Endpoint(HttpEndpoint):
    """The endpoints faults can target; ``ANY`` matches every request without a specific fault."""

    PING = ("GET", "/api/v3/ping")
    TIME = ("GET", "/api/v3/time")
    TICKER_24HR = ("GET", "/api/v3/ticker/24hr")
    KLINES = ("GET", "/api/v3/klines")
    ACCOUNT = ("GET", "/api/v3/account")
    CREATE_ORDER = ("POST", "/api/v3/order")
    FETCH_ORDER = ("GET", "/api/v3/order")
    CANCEL_ORDER = ("DELETE", "/api/v3/order")
    OPEN_ORDERS = ("GET", "/api/v3/openOrders")
    MY_TRADES = ("GET", "/api/v3/myTrades")
    ANY = ("*", "*")


class FaultKind(Enum):
    """What a fault does; see the :class:`Fault` constructors for the exact answers."""

    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    SERVER_ERROR = "server_error"
    STATUS_UNKNOWN = "status_unknown"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    ERROR = "error"


STATUS_UNKNOWN_MSG = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
DUPLICATE_MSG = "Duplicate order sent."
INSUFFICIENT_FUNDS_MSG = "Account has insufficient balance for requested action."
RATE_LIMIT_MSG = (
    "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)
IP_BANNED_MSG = (
    "Way too much request weight used; IP banned until {until}. "
    "Please use WebSocket Streams for live updates to avoid bans."
)
DEFAULT_5XX_BODY = "<html><head><title>{status}</title></head><body><h1>{status} Service Error</h1></body></html>"


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour. Build it with the class methods, not the constructor.

    ``execute`` says whether the request is really carried out (e.g. the order really created)
    before the faulty answer is sent: that is what makes a fault dangerous to a client which
    assumes "error means nothing happened".
    """

    kind: FaultKind
    http_status: int = 200
    body: dict[str, Any] | str | None = None
    execute: bool = False
    delay_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def accept_then_timeout(cls, delay_s: float = 10.0) -> Fault:
        """Carry the request out, then hold the (normal) answer for ``delay_s`` seconds.

        Choose a delay longer than the client's timeout so the client raises RequestTimeout;
        the wait is cut short when the server stops, so it never blocks shutdown.
        """
        return cls(FaultKind.ACCEPT_THEN_TIMEOUT, execute=True, delay_s=delay_s)

    @classmethod
    def server_error(
        cls, status: int = 500, *, execute: bool = False, body: dict[str, Any] | str | None = None
    ) -> Fault:
        """Answer HTTP ``status`` (5xx); with ``execute=True`` the order is created first.

        The default body is a non-JSON gateway page, as a load balancer in front of Binance
        sends; pass a dict (e.g. ``{"code": -1000, "msg": ...}``) for a JSON Binance error.
        """
        return cls(FaultKind.SERVER_ERROR, http_status=status, execute=execute, body=body)

    @classmethod
    def status_unknown(cls, *, execute: bool = True, status: int = 503) -> Fault:
        """Binance's -1007 "execution status unknown" (documented as a 5xx answer)."""
        return cls(
            FaultKind.STATUS_UNKNOWN,
            http_status=status,
            execute=execute,
            body={"code": -1007, "msg": STATUS_UNKNOWN_MSG},
        )

    @classmethod
    def not_found(cls) -> Fault:
        """The order is "not there" (replica lag): -2013 on lookups, -2011 on cancels."""
        return cls(FaultKind.NOT_FOUND, http_status=400)

    @classmethod
    def rate_limited(cls, status: int = 429, retry_after_s: int = 1) -> Fault:
        """HTTP 429 (or 418, an IP ban) with Binance's -1003 body and a Retry-After header."""
        msg = IP_BANNED_MSG.format(until=0) if status == 418 else RATE_LIMIT_MSG
        return cls(
            FaultKind.RATE_LIMITED,
            http_status=status,
            body={"code": -1003, "msg": msg},
            headers=(("Retry-After", str(retry_after_s)),),
        )

    @classmethod
    def insufficient_funds(cls) -> Fault:
        """Reject the order with -2010 "insufficient balance" even when the funds suffice."""
        return cls(FaultKind.INSUFFICIENT_FUNDS, http_status=400, body={"code": -2010, "msg": INSUFFICIENT_FUNDS_MSG})

    @classmethod
    def duplicate_client_id(cls, *, execute: bool = True) -> Fault:
        """-2010 "Duplicate order sent.": Binance's answer to a client id already held by a live
        order. With ``execute=True`` the order is created first, so it exists as the answer says
        (as when an earlier send of ours got through)."""
        return cls(FaultKind.ERROR, http_status=400, execute=execute, body={"code": -2010, "msg": DUPLICATE_MSG})

    @classmethod
    def error(cls, status: int, code: int, msg: str, *, execute: bool = False) -> Fault:
        """Any other Binance error answer ``{"code": code, "msg": msg}`` with HTTP ``status``."""
        return cls(FaultKind.ERROR, http_status=status, execute=execute, body={"code": code, "msg": msg})


class FaultPlan(FaultQueues[Endpoint, Fault]):
    """Binance's fault queues, with shorthands for the endpoints tests target most."""

    def on_create(self, fault: Fault, times: int = 1) -> FaultPlan:
        """Shorthand for ``on(Endpoint.CREATE_ORDER, ...)``, the most common target."""
        return self.on(Endpoint.CREATE_ORDER, fault, times)

    def on_fetch_order(self, fault: Fault, times: int = 1) -> FaultPlan:
        """Shorthand for ``on(Endpoint.FETCH_ORDER, ...)``."""
        return self.on(Endpoint.FETCH_ORDER, fault, times)

    def on_cancel(self, fault: Fault, times: int = 1) -> FaultPlan:
        """Shorthand for ``on(Endpoint.CANCEL_ORDER, ...)``."""
        return self.on(Endpoint.CANCEL_ORDER, fault, times)

    def take(self, endpoint: Endpoint) -> Fault | None:
        """Consume the fault for one request of ``endpoint`` (specific queue first, then ANY)."""
        return self._take(endpoint, Endpoint.ANY)
