"""Fault injection for the fake Kraken server.

Tests queue faults per endpoint; each request that reaches the endpoint (after passing
authentication, so a badly signed request never consumes one) takes the fault at the head of the
queue, then ``ANY``'s. A fault with ``times=N`` applies to the next N requests.

One target is not an endpoint: :attr:`Endpoint.ORDER_LOOKUP` models replica lag. Its faults
(only :meth:`Fault.not_found`) are taken by a read that asks for particular orders (QueryOrders,
or OpenOrders/ClosedOrders filtered by ``cl_ord_id``/``userref``) **and would have found one**:
the order stays invisible to the next N reads that would have shown it, however many calls a
client makes per lookup (our adapter asks OpenOrders, then ClosedOrders).

Kraken answers errors with HTTP 200 and ``{"error": [...]}``; only its CDN in front answers
5xx pages, which is what :meth:`Fault.server_error` sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Self

from tests.support.fake_http import FaultQueues, HttpEndpoint


class Endpoint(HttpEndpoint):
    """The endpoints faults can target, with ``ANY`` and the virtual ``ORDER_LOOKUP``."""

    TIME = ("GET", "/0/public/Time")
    SYSTEM_STATUS = ("GET", "/0/public/SystemStatus")
    ASSET_PAIRS = ("GET", "/0/public/AssetPairs")
    TICKER = ("GET", "/0/public/Ticker")
    OHLC = ("GET", "/0/public/OHLC")
    BALANCE = ("POST", "/0/private/Balance")
    BALANCE_EX = ("POST", "/0/private/BalanceEx")
    ADD_ORDER = ("POST", "/0/private/AddOrder")
    QUERY_ORDERS = ("POST", "/0/private/QueryOrders")
    OPEN_ORDERS = ("POST", "/0/private/OpenOrders")
    CLOSED_ORDERS = ("POST", "/0/private/ClosedOrders")
    CANCEL_ORDER = ("POST", "/0/private/CancelOrder")
    ORDER_LOOKUP = ("*", "lookup")
    ANY = ("*", "*")

    @property
    def private(self) -> bool:
        return self.path.startswith("/0/private/")


class FaultKind(Enum):
    """What a fault does; see the :class:`Fault` constructors for the exact answers."""

    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    SERVICE_ERROR = "service_error"
    SERVER_ERROR = "server_error"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_NONCE = "invalid_nonce"
    ERROR = "error"


SERVICE_UNAVAILABLE = "EService:Unavailable"
SERVICE_BUSY = "EService:Busy"
INTERNAL_ERROR = "EGeneral:Internal error"
API_RATE_LIMIT = "EAPI:Rate limit exceeded"
ORDER_RATE_LIMIT = "EOrder:Rate limit exceeded"
INVALID_NONCE = "EAPI:Invalid nonce"
DEFAULT_5XX_BODY = (
    "<html><head><title>{status}</title></head><body><h1>Error {status}</h1>"
    "<p>The web server reported a gateway error. cloudflare</p></body></html>"
)


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour. Build it with the class methods, not the constructor.

    ``execute`` says whether the request is really carried out (the order really created) before
    the faulty answer is sent: that is what makes a fault dangerous to a client which assumes
    "error means nothing happened".
    """

    kind: FaultKind
    message: str | None = None
    http_status: int = 200
    body: str | None = None
    execute: bool = False
    delay_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def accept_then_timeout(cls, delay_s: float = 10.0) -> Fault:
        """Carry the request out, then hold the (normal) answer for ``delay_s`` seconds: longer
        than the client's timeout makes ccxt raise RequestTimeout. Cut short when the server stops."""
        return cls(FaultKind.ACCEPT_THEN_TIMEOUT, execute=True, delay_s=delay_s)

    @classmethod
    def service_error(cls, message: str = SERVICE_UNAVAILABLE, *, execute: bool = False) -> Fault:
        """Kraken's own outage answers in the envelope (HTTP 200): ``EService:Unavailable``
        (default), ``EService:Busy`` or ``EGeneral:Internal error``. ccxt: ExchangeNotAvailable."""
        return cls(FaultKind.SERVICE_ERROR, message=message, execute=execute)

    @classmethod
    def server_error(cls, status: int = 502, *, execute: bool = False, body: str | None = None) -> Fault:
        """An HTTP 5xx page from the CDN in front of Kraken (HTML unless ``body`` is given);
        with ``execute=True`` the request was carried out behind it."""
        return cls(FaultKind.SERVER_ERROR, http_status=status, execute=execute, body=body)

    @classmethod
    def not_found(cls) -> Fault:
        """The order is "not there": QueryOrders "EOrder:Invalid order", CancelOrder "EOrder:Unknown
        order", Open/ClosedOrders empty. On ``ORDER_LOOKUP``: replica lag (see the module doc)."""
        return cls(FaultKind.NOT_FOUND)

    @classmethod
    def rate_limited(cls, scope: str = "api", *, http_status: int = 200) -> Fault:
        """``EAPI:Rate limit exceeded`` (``scope="api"``) or ``EOrder:Rate limit exceeded``
        (``"order"``), in the envelope; ccxt: DDoSProtection. ``http_status=429`` sends the CDN's
        bare 429 instead (ccxt: RateLimitExceeded)."""
        message = ORDER_RATE_LIMIT if scope == "order" else API_RATE_LIMIT
        return cls(
            FaultKind.RATE_LIMITED,
            message=message,
            http_status=http_status,
            headers=(("Retry-After", "1"),) if http_status == 429 else (),
        )

    @classmethod
    def insufficient_funds(cls) -> Fault:
        """Refuse an order with ``EOrder:Insufficient funds`` even when the funds suffice."""
        return cls(FaultKind.INSUFFICIENT_FUNDS, message="EOrder:Insufficient funds")

    @classmethod
    def invalid_nonce(cls) -> Fault:
        """``EAPI:Invalid nonce`` although the nonce was fine (another process used a higher one)."""
        return cls(FaultKind.INVALID_NONCE, message=INVALID_NONCE)

    @classmethod
    def error(cls, message: str, *, execute: bool = False) -> Fault:
        """Any other Kraken error string, in the envelope."""
        return cls(FaultKind.ERROR, message=message, execute=execute)


class FaultPlan(FaultQueues[Endpoint, Fault]):
    """Kraken's fault queues, with shorthands and the replica-lag target."""

    def on(self, endpoint: Endpoint, fault: Fault, times: int = 1) -> Self:
        """Apply ``fault`` to the next ``times`` requests of ``endpoint`` (after queued ones)."""
        if endpoint is Endpoint.ORDER_LOOKUP and fault.kind is not FaultKind.NOT_FOUND:
            raise ValueError("ORDER_LOOKUP only takes Fault.not_found()")
        return super().on(endpoint, fault, times)

    def on_add_order(self, fault: Fault, times: int = 1) -> FaultPlan:
        """Shorthand for ``on(Endpoint.ADD_ORDER, ...)``, the most common target."""
        return self.on(Endpoint.ADD_ORDER, fault, times)

    on_create = on_add_order

    def on_query_orders(self, fault: Fault, times: int = 1) -> FaultPlan:
        """Shorthand for ``on(Endpoint.QUERY_ORDERS, ...)`` (every QueryOrders request)."""
        return self.on(Endpoint.QUERY_ORDERS, fault, times)

    def on_lookup(self, times: int = 1) -> FaultPlan:
        """Replica lag: the next ``times`` reads that would find an order miss it."""
        return self.on(Endpoint.ORDER_LOOKUP, Fault.not_found(), times)

    def on_cancel(self, fault: Fault, times: int = 1) -> FaultPlan:
        return self.on(Endpoint.CANCEL_ORDER, fault, times)

    def take(self, endpoint: Endpoint, *, fallback: bool = True) -> Fault | None:
        """Consume the fault for one request of ``endpoint`` (its own queue, then ``ANY`` unless
        ``fallback`` is False)."""
        return self._take(endpoint, Endpoint.ANY) if fallback else self._take(endpoint)
