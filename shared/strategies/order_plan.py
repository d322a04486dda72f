"""The contract of the stateful strategies (dca, grid): fills in, wanted orders out, state explicit.

A stateful strategy is `step(params, state, candles, fills) -> Step`: pure, no I/O. The strategy
worker keeps `Step.state` (its JSON form) between ticks and passes back every fill its bot's
orders got since the last step. `Step.orders` is the whole set of orders the strategy wants to
exist now, each under a `leg` key such as `dca:c3:so2` or `grid:L5:sell:n7`. The worker turns
that set into intents:

- a wanted leg with no intent yet is placed, under an intent id derived from (bot id, leg);
- an open order whose leg is no longer wanted is cancelled;
- a leg never names two different orders in a bot's life (cycle and flip counters are part of
  it), so a repeated tick, a redelivery or a wanted market order seen again on the next bar can
  never place a second order. A worker that restarts a bot's state from scratch (after a strategy
  change) must scope its intent ids by that restart, since the counters start over.

Amounts are base currency; prices are quote per base. Computed prices keep PRICE_DIGITS
significant digits and computed amounts are rounded down to as many; the worker rounds both
further to the market's steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Literal, TypeVar

from pydantic import BaseModel

from shared.strategies.quantities import PRICE_DIGITS

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
LogValue = str | int | None
StateT = TypeVar("StateT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of the bot's orders. `closes_order` is True on the order's last fill:
    it is finished, fully filled or ended after this partial fill."""

    leg: str
    side: Side
    amount: Decimal
    price: Decimal
    closes_order: bool = False

    def __post_init__(self) -> None:
        if not self.amount > 0 or not self.price > 0:
            raise ValueError(f"a fill needs a positive amount and price (leg {self.leg})")


@dataclass(frozen=True, slots=True)
class WantedOrder:
    leg: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None  # the limit price; None for a market order
    reason: str

    def __post_init__(self) -> None:
        if (self.type == "limit") != (self.price is not None):
            raise ValueError("a limit order has a price and a market order has none")


@dataclass(frozen=True, slots=True)
class Step[StateT: BaseModel]:
    """A step's answer: the state to keep, every order wanted now, and what to log about the decision."""

    state: StateT
    orders: tuple[WantedOrder, ...]
    indicators: dict[str, LogValue]


def round_amount_down(value: Decimal) -> Decimal:
    """`value` to PRICE_DIGITS significant digits, rounded down so an order never spends more than planned."""
    with localcontext(prec=PRICE_DIGITS, rounding=ROUND_DOWN):
        return +value


def price_of(close: float) -> Decimal:
    """A candle's float price as the shortest decimal that reads back as the same float."""
    return Decimal(repr(float(close)))  # float(): numpy scalars repr as "np.float64(...)"
