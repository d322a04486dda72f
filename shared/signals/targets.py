"""Target-position arithmetic for signals: where the bot should be after a signal, and the one
order that gets it there. Pure (no I/O), so every rule is unit-tested.

With a target (`strategy_info.market_position[_size]`, `{{strategy.market_position_size}}`) the
bot moves from its working position to the target instead of adding blindly, so a lost or a
duplicated alert heals on the next one. Without one: enter_long buys the sized amount, exit_long
sells the whole position (or the amount given), and likewise for shorts on derivatives markets.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Literal

from shared.exchange.protocol import Market

Side = Literal["buy", "sell"]
_DIGITS = 28


@dataclass(frozen=True)
class OrderPlan:
    """What to do: `side`/`amount` (None when nothing is needed), and why not when skipped."""

    wanted: Decimal
    side: Side | None
    amount: Decimal
    skipped: str | None = None  # at_target | below_market_minimum


def sized_amount(amount: dict[str, Any] | None, price: Decimal, full_notional: Decimal) -> Decimal:
    """A signal's amount in base units: as given (base), from quote at `price`, or a percent of
    the bot's full position (`full_notional` quote); no amount means a full position."""
    with localcontext(prec=_DIGITS, rounding=ROUND_HALF_EVEN):
        if amount is None:
            return full_notional / price
        value = Decimal(amount["value"])
        if amount["unit"] == "base":
            return value
        if amount["unit"] == "quote":
            return value / price
        return full_notional * value / 100 / price


def wanted_position(
    fields: dict[str, Any], working: Decimal, price: Decimal, full_notional: Decimal, *, derivatives: bool
) -> Decimal:
    """The position (base units, negative = short) the signal asks for, given the working one."""
    action = fields["action"]
    target = fields.get("target")
    size = sized_amount(fields.get("amount"), price, full_notional)
    if target is not None:
        if target["position"] == "flat":
            wanted = Decimal(0)
        else:
            magnitude = Decimal(target["size"]) if target["size"] is not None else size
            wanted = magnitude if target["position"] == "long" else -magnitude
    elif action == "enter_long":
        wanted = working + size
    elif action == "enter_short":
        wanted = working - size
    elif action == "exit_long":
        partial = fields.get("amount") is not None
        wanted = working if working <= 0 else (max(working - size, Decimal(0)) if partial else Decimal(0))
    else:  # exit_short
        partial = fields.get("amount") is not None
        wanted = working if working >= 0 else (min(working + size, Decimal(0)) if partial else Decimal(0))
    return wanted if derivatives else max(wanted, Decimal(0))


def plan_order(
    fields: dict[str, Any],
    *,
    held: Decimal,
    pending: Decimal,
    price: Decimal,
    full_notional: Decimal,
    market: Market,
    derivatives: bool,
) -> OrderPlan:
    """The order that moves the working position (`held` filled + `pending` in open orders) to
    the signal's wanted position. On spot a sell never exceeds what is held (filled)."""
    working = held + pending
    wanted = wanted_position(fields, working, price, full_notional, derivatives=derivatives)
    delta = wanted - working
    side: Side = "buy" if delta > 0 else "sell"
    raw = abs(delta)
    if side == "sell" and not derivatives:
        raw = min(raw, max(held, Decimal(0)))
    amount = market.amount_to_step(raw)
    if amount <= 0:
        return OrderPlan(wanted, None, Decimal(0), skipped="at_target")
    refused = market.refusal(amount, price)
    if refused is not None:
        return OrderPlan(wanted, None, amount, skipped=refused.reason)
    return OrderPlan(wanted, side, amount)
