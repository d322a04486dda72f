"""What the in-memory books behind the fake exchanges share: markets from a committed file, the
order list and its test-side lookups and fills, prices and the deterministic candle series.

Each fake's engine subclasses :class:`SpotBook` and keeps its exchange's acceptance rules, number
formats and answer shapes; the server holds the lock around every call.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Protocol

ZERO = Decimal(0)
DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
CANDLE_WICK = Decimal("0.0005")  # each candle spans 0.05% either side of its body

Markets = Mapping[str, Mapping[str, Any]]  # ccxt unified markets by symbol
Amounts = Mapping[str, str | Decimal]  # balances by asset, prices by symbol
Clock = Callable[[], int]  # milliseconds since the epoch


def load_markets(path: Path) -> dict[str, dict[str, Any]]:
    """The committed ccxt unified markets, keyed by unified symbol."""
    markets: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return markets


def random_token(alphabet: str, length: int) -> str:
    """``length`` characters drawn from ``alphabet``: generated order, trade and client ids."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def decimal_param(params: Mapping[str, str], name: str, invalid: Callable[[str], Exception]) -> Decimal | None:
    """A plain decimal parameter (no sign, no exponent), None when absent; ``invalid(name)`` is
    the exchange's error for a malformed one."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not DECIMAL_RE.match(raw):
        raise invalid(name)
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise invalid(name) from exc


class OrderState:
    """What every fake's exchange-side order answers the same way: whether it is open (its
    ``status`` among ``open_statuses``) and its client id (the field ``client_id_field`` names)."""

    open_statuses: ClassVar[frozenset[str]]
    client_id_field: ClassVar[str]
    status: str

    @property
    def is_open(self) -> bool:
        return self.status in self.open_statuses

    @property
    def client_id(self) -> str | None:
        value: str | None = getattr(self, self.client_id_field)
        return value


class BookOrder(Protocol):
    """What the shared bookkeeping reads off an exchange-side order."""

    @property
    def client_id(self) -> str | None: ...

    @property
    def is_open(self) -> bool: ...

    @property
    def status(self) -> str: ...


class SpotBook[O: BookOrder, R]:
    """Orders, market rules (``R``, by exchange market id), prices and candle closes of one
    account; subclasses add the exchange's balances and acceptance rules."""

    def __init__(self, markets: Markets, prices: Amounts, clock: Clock, read_rules: Callable[[Any], R]) -> None:
        self.clock = clock
        self.orders: list[O] = []
        self.rules: dict[str, R] = {market["id"]: read_rules(market) for market in markets.values()}
        self.prices: dict[str, Decimal] = {self.market_key(symbol): Decimal(price) for symbol, price in prices.items()}
        self.closes_override: dict[str, list[Decimal]] = {}

    def market_key(self, symbol: str) -> str:
        """The key prices and candles are kept under, for a symbol in any form the exchange knows."""
        raise NotImplementedError

    def _is_exchange_id(self, order: O, ref: Any) -> bool:
        raise NotImplementedError

    def fill(self, ref: Any, qty: Decimal | None = None, price: Decimal | None = None) -> O:
        """For tests: fill an open order (fully, or ``qty`` of it) at its limit or a better price."""
        raise NotImplementedError

    def find_order(self, ref: Any) -> O:
        """For tests: an order by exchange id, or by client id (the open one if any, else the latest)."""
        matches = [o for o in self.orders if self._is_exchange_id(o, ref)]
        if not matches:
            matches = [o for o in self.orders if o.client_id == ref]
            matches = [o for o in matches if o.is_open] or matches
        if not matches:
            raise KeyError(f"no order {ref!r}")
        return matches[-1]

    def fill_terms(
        self,
        ref: Any,
        qty: Decimal | None,
        price: Decimal | None,
        remaining: Callable[[O], Decimal],
        limit: Callable[[O], Decimal],
        buys: Callable[[O], bool],
    ) -> tuple[O, Decimal, Decimal]:
        """For tests: the order ``ref`` names and the (quantity, price) of a maker fill of it,
        checked: the order is open, the quantity within what remains, the price no worse than its
        limit. Defaults: all that remains, at the limit."""
        order = self.find_order(ref)
        if not order.is_open:
            raise ValueError(f"order {ref!r} is {order.status}, not open")
        left = remaining(order)
        qty = left if qty is None else qty
        if qty <= 0 or qty > left:
            raise ValueError(f"cannot fill {qty} of an order with {left} remaining")
        worst = limit(order)
        fill_price = worst if price is None else price
        if fill_price > worst if buys(order) else fill_price < worst:
            raise ValueError(f"fill price {fill_price} is worse than the limit {worst}")
        return order, qty, fill_price

    def close_at(self, key: str, candles_back: int) -> Decimal:
        """The close of the candle ``candles_back`` before the current one: the configured series
        (its last value is the current candle) or, without one, the current price."""
        series = self.closes_override.get(key)
        if not series:
            return self.current_price(key)
        return series[max(len(series) - 1 - candles_back, 0)]

    def current_price(self, key: str) -> Decimal:
        return self.prices[key]

    def candle(self, key: str, candles_back: int) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(open, high, low, close) of a candle: it opens at the previous close and its wicks span
        :data:`CANDLE_WICK` either side of its body."""
        close = self.close_at(key, candles_back)
        open_ = self.close_at(key, candles_back + 1)
        return open_, max(open_, close) * (1 + CANDLE_WICK), min(open_, close) * (1 - CANDLE_WICK), close
