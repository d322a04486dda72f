"""An in-memory implementation of the `Exchange` protocol with injectable faults, for state-machine
and property tests of the order lifecycle that need no HTTP and no ccxt.

It answers in the platform's own error taxonomy (what `shared.exchange.errors.translate` makes of
an exchange's answer), so it tests the lifecycle, not an adapter: the fake HTTP exchanges stay for
the adapter's contract (signing, ids, error mapping). Like Binance and Kraken, it refuses a client
order id held by an open order (as an ambiguous "duplicate" answer) and accepts it again once the
first order is closed: that is what makes a blind resend dangerous.

`install_memory_exchange` points the product at it the way `tests.support.trading` points ccxt at
the fakes: the tenant's paper account is served from `shared.exchange.connect`'s instance cache.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum

from shared.errors import ExchangeAmbiguous, ExchangeOrderNotFound, ExchangeRejected, ExchangeTemporary
from shared.exchange.protocol import (
    AssetBalance,
    Candle,
    ExchangeOrder,
    ExchangeOrderStatus,
    Market,
    OrderRequest,
    Ticker,
)

ZERO = Decimal(0)
DEFAULT_MARKETS = {
    "BTC/USDT": Market(
        symbol="BTC/USDT",
        base="BTC",
        quote="USDT",
        amount_step=Decimal("0.00001"),
        price_step=Decimal("0.01"),
        min_amount=Decimal("0.00001"),
        max_amount=None,
        min_cost=Decimal("5"),
    ),
}


class CreateFault(Enum):
    """What the next order creation answers instead of a plain acceptance."""

    AMBIGUOUS_EXECUTED = "ambiguous_executed"  # timeout / 5xx / status unknown; the order exists
    AMBIGUOUS_NOT_EXECUTED = "ambiguous_not_executed"  # the same answer; nothing was done
    DUPLICATE_ANSWER = "duplicate_answer"  # "duplicate client order id"; the order exists
    REJECTED = "rejected"  # a definite refusal (insufficient funds)
    RATE_LIMITED = "rate_limited"  # a refusal that proves nothing was done

    @property
    def executes(self) -> bool:
        return self in (CreateFault.AMBIGUOUS_EXECUTED, CreateFault.DUPLICATE_ANSWER)


@dataclass
class MemoryFaults:
    """Faults queued by a test: one per coming create call, and replica lag on lookups."""

    creates: deque[CreateFault] = field(default_factory=deque)
    lookup_misses: int = 0

    def on_create(self, fault: CreateFault) -> MemoryFaults:
        self.creates.append(fault)
        return self

    def not_found_on_lookup(self, times: int) -> MemoryFaults:
        """The next `times` lookups that would find an order miss it (replica lag)."""
        self.lookup_misses += times
        return self

    def clear(self) -> None:
        self.creates.clear()
        self.lookup_misses = 0


@dataclass
class _Order:
    order: ExchangeOrder

    @property
    def is_open(self) -> bool:
        return self.order.status is ExchangeOrderStatus.OPEN


@dataclass
class MemoryExchange:
    """One account on an in-memory spot exchange. Market orders fill at once at `price`; limit
    orders rest until a test calls :meth:`fill`. Balances are not modelled (refusals come from
    faults). Thread-safe, as the trade worker may call it from two threads."""

    exchange_id: str = "paper"
    price: Decimal = Decimal("60000")
    markets_by_symbol: dict[str, Market] = field(default_factory=lambda: dict(DEFAULT_MARKETS))
    faults: MemoryFaults = field(default_factory=MemoryFaults)
    create_calls: list[str] = field(default_factory=list)  # the client id of every create call
    refused_creates: list[str] = field(default_factory=list)  # those that provably did nothing
    _orders: list[_Order] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the Exchange protocol ---------------------------------------------------------------

    def markets(self) -> dict[str, Market]:
        return dict(self.markets_by_symbol)

    def market(self, symbol: str) -> Market:
        try:
            return self.markets_by_symbol[symbol]
        except KeyError:
            raise ExchangeRejected("unknown symbol", reason="bad_symbol") from None

    def fetch_ticker(self, symbol: str) -> Ticker:
        self.market(symbol)
        return Ticker(symbol=symbol, last=self.price, bid=self.price, ask=self.price, timestamp_ms=0)

    def fetch_ohlcv(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        self.market(symbol)
        return [Candle(i * 60_000, self.price, self.price, self.price, self.price, Decimal(1)) for i in range(limit)]

    def fetch_balance(self) -> dict[str, AssetBalance]:
        return {
            "USDT": AssetBalance(free=Decimal(10) ** 9, used=ZERO),
            "BTC": AssetBalance(free=Decimal(10) ** 6, used=ZERO),
        }

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        self.market(request.symbol)
        with self._lock:
            self.create_calls.append(request.client_order_id)
            fault = self.faults.creates.popleft() if self.faults.creates else None
            if fault is CreateFault.RATE_LIMITED:
                self.refused_creates.append(request.client_order_id)
                raise ExchangeTemporary("rate limited")
            if fault is CreateFault.REJECTED:
                raise ExchangeRejected("insufficient funds", reason="insufficient_funds")
            if fault is CreateFault.AMBIGUOUS_NOT_EXECUTED:
                raise ExchangeAmbiguous("timed out", details={"error": "RequestTimeout"})
            if any(o.is_open and o.order.client_order_id == request.client_order_id for o in self._orders):
                raise ExchangeAmbiguous("duplicate", details={"error": "duplicate_client_order_id"})
            accepted = self._accept(request)
            if fault is CreateFault.AMBIGUOUS_EXECUTED:
                raise ExchangeAmbiguous("timed out", details={"error": "RequestTimeout"})
            if fault is CreateFault.DUPLICATE_ANSWER:
                raise ExchangeAmbiguous("duplicate", details={"error": "duplicate_client_order_id"})
            return accepted

    def fetch_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        with self._lock:
            found = self._find(symbol, exchange_order_id, client_order_id)
            if found is not None and self.faults.lookup_misses:
                self.faults.lookup_misses -= 1
                found = None
            if found is None:
                raise ExchangeOrderNotFound("no such order")
            return found.order

    def cancel_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        with self._lock:
            found = self._find(symbol, exchange_order_id, client_order_id)
            if found is None or not found.is_open:
                raise ExchangeOrderNotFound("no such open order")
            found.order = replace(found.order, status=ExchangeOrderStatus.CANCELED, raw_status="canceled")
            return found.order

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        with self._lock:
            return [o.order for o in self._orders if o.is_open and symbol in (None, o.order.symbol)]

    # -- test controls -----------------------------------------------------------------------

    @property
    def orders(self) -> list[ExchangeOrder]:
        """Every order the exchange accepted, oldest first."""
        with self._lock:
            return [o.order for o in self._orders]

    def orders_with_client_id(self, client_order_id: str) -> list[ExchangeOrder]:
        return [o for o in self.orders if o.client_order_id == client_order_id]

    def fill(self, exchange_order_id: str, qty: Decimal | None = None) -> ExchangeOrder:
        """Fill an open order at its limit price, fully or `qty` of it."""
        with self._lock:
            found = next(o for o in self._orders if o.order.exchange_order_id == exchange_order_id)
            if not found.is_open:
                raise ValueError(f"order {exchange_order_id} is {found.order.status}, not open")
            left = found.order.amount - found.order.filled
            self._trade(found, left if qty is None else min(qty, left), found.order.price or self.price)
            return found.order

    # -- bookkeeping -------------------------------------------------------------------------

    def _accept(self, request: OrderRequest) -> ExchangeOrder:
        placed = _Order(
            ExchangeOrder(
                exchange_order_id=str(1001 + len(self._orders)),
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side,
                type=request.type,
                amount=request.amount,
                price=request.price,
                status=ExchangeOrderStatus.OPEN,
                filled=ZERO,
                cost=ZERO,
                raw_status="open",
            )
        )
        self._orders.append(placed)
        marketable = request.price is None or (
            request.price >= self.price if request.side == "buy" else request.price <= self.price
        )
        if marketable:
            self._trade(placed, request.amount, self.price)
        return placed.order

    @staticmethod
    def _trade(placed: _Order, qty: Decimal, price: Decimal) -> None:
        order = placed.order
        filled = order.filled + qty
        done = filled == order.amount
        placed.order = replace(
            order,
            filled=filled,
            cost=order.cost + qty * price,
            status=ExchangeOrderStatus.CLOSED if done else ExchangeOrderStatus.OPEN,
            raw_status="closed" if done else "open",
        )

    def _find(self, symbol: str, exchange_order_id: str | None, client_order_id: str | None) -> _Order | None:
        """By exchange id, else the open order with this client id, else its latest."""
        mine = [o for o in self._orders if o.order.symbol == symbol]
        if exchange_order_id is not None:
            return next((o for o in mine if o.order.exchange_order_id == exchange_order_id), None)
        matches = [o for o in mine if o.order.client_order_id == client_order_id]
        matches = [o for o in matches if o.is_open] or matches
        return matches[-1] if matches else None


@contextmanager
def install_memory_exchange(exchange: MemoryExchange, tenant_id: str) -> Iterator[MemoryExchange]:
    """Serve `tenant_id`'s paper account from `exchange` (through `shared.exchange.connect`'s
    instance cache, which `open_exchange` consults before building a paper exchange)."""
    from shared.exchange import connect
    from shared.exchange_accounts.models import PAPER_ACCOUNT_ID

    key = (tenant_id, PAPER_ACCOUNT_ID)
    with connect._lock:
        connect._instances[key] = ("paper", exchange)
    try:
        yield exchange
    finally:
        connect.forget(*key)
