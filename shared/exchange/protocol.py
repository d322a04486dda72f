"""Exchange-neutral values passed across the exchange interface. Decimals throughout: an amount
never goes through a float on its way to or from an exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Literal, Protocol

from shared.money import decimal_text

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]


class ExchangeOrderStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # fully filled
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal
    max_amount: Decimal | None
    min_cost: Decimal
    active: bool = True

    def amount_to_step(self, amount: Decimal) -> Decimal:
        """Down to the amount step: an order never trades more than was planned."""
        return _to_step(amount, self.amount_step, ROUND_DOWN)

    def price_to_step(self, price: Decimal, side: Side) -> Decimal:
        """To the price step, on the side that never pays more (buys down, sells up)."""
        return _to_step(price, self.price_step, ROUND_DOWN if side == "buy" else ROUND_CEILING)

    def refusal(self, amount: Decimal, price: Decimal) -> MarketRefusal | None:
        """Why the exchange would refuse an order of `amount` at `price`, before asking it."""
        if amount <= 0 or amount < self.min_amount:
            return MarketRefusal(
                "below_market_minimum",
                f"amount {decimal_text(amount)} is below the market minimum {decimal_text(self.min_amount)}",
            )
        if self.min_cost and amount * price < self.min_cost:
            return MarketRefusal(
                "below_market_minimum", f"order value is below the market minimum {decimal_text(self.min_cost)}"
            )
        if self.max_amount is not None and amount > self.max_amount:
            return MarketRefusal(
                "above_market_maximum",
                f"amount {decimal_text(amount)} is above the market maximum {decimal_text(self.max_amount)}",
            )
        return None


@dataclass(frozen=True)
class MarketRefusal:
    reason: Literal["below_market_minimum", "above_market_maximum"]
    message: str


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    return Decimal(decimal_text((value / step).to_integral_value(rounding=rounding) * step))


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    timestamp_ms: int


@dataclass(frozen=True)
class Candle:
    timestamp_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class AssetBalance:
    free: Decimal
    used: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    client_order_id: str
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class ExchangeOrder:
    """An order as the exchange reports it; `filled`/`cost` are cumulative."""

    exchange_order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None
    status: ExchangeOrderStatus
    filled: Decimal
    cost: Decimal
    fee_cost: Decimal = Decimal(0)
    fee_currency: str | None = None
    timestamp_ms: int | None = None
    raw_status: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None


class Exchange(Protocol):
    """What the platform needs from any exchange, real or paper."""

    exchange_id: str

    def markets(self) -> dict[str, Market]: ...

    def market(self, symbol: str) -> Market: ...

    def fetch_ticker(self, symbol: str) -> Ticker: ...

    def fetch_ohlcv(self, symbol: str, timeframe: str, limit: int) -> list[Candle]: ...

    def fetch_balance(self) -> dict[str, AssetBalance]: ...

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Never retried inside: an error here is temporary (nothing sent), ambiguous or final."""
        ...

    def fetch_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder: ...

    def cancel_order(
        self, symbol: str, *, exchange_order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder: ...

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]: ...
