"""3Commas-style DCA as a pure step function (see `DcaParams` for the ladder, `order_plan` for the contract).

A cycle: a market base order; once it has filled, a limit take profit for the whole position at
`take_profit_pct` above the average entry, and the next `max_active_safety_orders` safety orders
resting below the base price. Each buy fill moves the average entry, so the take profit is re-keyed
(`tp<buy fills>`) and re-placed. The cycle ends when its take profit (or stop loss) order closes;
the next cycle's base order is wanted in the same step.

The stop loss is checked on the bar's close against the average entry; once hit, the bot only
wants the market sell (`sl`) until it closes, even if the price recovers meanwhile.

Accounting uses the average-cost method: the cost of what was sold is the average entry times the
amount sold. Dust left by exchange rounding when a cycle closes is dropped from the bot's books
(the next cycle starts flat); a fill of an older cycle's leg that arrives late still counts as
inventory of the current cycle, because the coins are really there.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import decimal_text
from shared.strategies.candles import Candles
from shared.strategies.order_plan import Fill, LogValue, Step, WantedOrder, price_of, round_amount_down
from shared.strategies.quantities import DECIMAL_DIGITS, round_price
from shared.strategies.stepped_params import DcaParams

_LEG = re.compile(r"^dca:c(?P<cycle>[0-9]+):(?P<kind>base|so(?P<so>[0-9]+)|tp[0-9]+|sl)$")
_ZERO = Decimal(0)


class DcaState(BaseModel):
    """One cycle's books plus the totals of closed cycles. JSON-safe: decimals dump as strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    cycle: int = Field(default=1, ge=1)
    bought: Decimal = _ZERO  # base bought in this cycle
    spent: Decimal = _ZERO  # quote paid for it
    sold: Decimal = _ZERO  # base sold in this cycle
    proceeds: Decimal = _ZERO  # quote received for it
    base_bought: Decimal = _ZERO  # the base order's own fills, for its average price
    base_spent: Decimal = _ZERO
    base_price: Decimal | None = None  # set once the base order has closed: the ladder hangs from it
    safety_filled: int = 0  # highest safety order closed in this cycle
    buy_fills: int = 0  # keys the take profit leg, which changes with every buy
    stopping: bool = False
    closed_cycles: int = 0
    realized_pnl: Decimal = _ZERO  # quote, over closed cycles, fees not included

    @property
    def position(self) -> Decimal:
        return self.bought - self.sold

    @property
    def average_entry(self) -> Decimal | None:
        return self.spent / self.bought if self.bought > 0 else None


def leg(cycle: int, name: str) -> str:
    return f"dca:c{cycle}:{name}"


def _apply(state: DcaState, fill: Fill) -> DcaState:
    match = _LEG.match(fill.leg)
    if match is None:
        raise ValueError(f"not a dca leg: {fill.leg!r}")
    value = fill.amount * fill.price
    if fill.side == "buy":
        state = state.model_copy(
            update={
                "bought": state.bought + fill.amount,
                "spent": state.spent + value,
                "buy_fills": state.buy_fills + 1,
            }
        )
    else:
        state = state.model_copy(update={"sold": state.sold + fill.amount, "proceeds": state.proceeds + value})
    if int(match["cycle"]) != state.cycle:
        return state
    kind = match["kind"]
    if kind == "base":
        base_bought, base_spent = state.base_bought + fill.amount, state.base_spent + value
        update: dict[str, object] = {"base_bought": base_bought, "base_spent": base_spent}
        if fill.closes_order:
            update["base_price"] = round_price(base_spent / base_bought)
        return state.model_copy(update=update)
    if match["so"] is not None:
        if fill.closes_order:
            return state.model_copy(update={"safety_filled": max(state.safety_filled, int(match["so"]))})
        return state
    if fill.closes_order:  # take profit or stop loss: the cycle is over
        cost_sold = state.spent * state.sold / state.bought if state.bought > 0 else _ZERO
        return DcaState(
            cycle=state.cycle + 1,
            closed_cycles=state.closed_cycles + 1,
            realized_pnl=state.realized_pnl + state.proceeds - cost_sold,
        )
    return state


def step(params: DcaParams, state: DcaState | None, candles: Candles, fills: tuple[Fill, ...] = ()) -> Step[DcaState]:
    """Apply `fills`, then decide on the last candle's close what orders the cycle wants."""
    if len(candles) == 0:
        raise ValueError("dca needs the last closed candle")
    with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
        current = state if state is not None else DcaState()
        for fill in fills:
            current = _apply(current, fill)
        close = price_of(candles.close[-1])
        return _decide(params, current, close)


def _decide(params: DcaParams, state: DcaState, close: Decimal) -> Step[DcaState]:
    cycle, position, average = state.cycle, state.position, state.average_entry
    log: dict[str, LogValue] = {
        "close": decimal_text(close),
        "cycle": cycle,
        "position": decimal_text(position),
        "average_entry": None if average is None else decimal_text(round_price(average)),
        "safety_orders_filled": state.safety_filled,
    }
    if state.stopping:
        return Step(state, _stop_loss(cycle, position), log | {"stop_loss": "hit"})
    if state.base_price is None or average is None:
        amount = round_amount_down(params.order_notional / close)
        base = WantedOrder(leg(cycle, "base"), "buy", "market", amount, None, "base order of a new cycle")
        return Step(state, (base,), log)
    if params.stop_loss_pct is not None:
        stop_price = round_price(average * (1 - params.stop_loss_pct / 100))
        log["stop_loss_price"] = decimal_text(stop_price)
        if close <= stop_price:
            stopping = state.model_copy(update={"stopping": True})
            return Step(stopping, _stop_loss(cycle, position), log | {"stop_loss": "hit"})
    take_profit_price = round_price(average * (1 + params.take_profit_pct / 100))
    log["take_profit_price"] = decimal_text(take_profit_price)
    orders = [
        WantedOrder(
            leg(cycle, f"tp{state.buy_fills}"),
            "sell",
            "limit",
            position,
            take_profit_price,
            f"take profit {decimal_text(params.take_profit_pct)}% above the average entry",
        )
    ]
    last = min(state.safety_filled + params.max_active_safety_orders, params.max_safety_orders)
    for number in range(state.safety_filled + 1, last + 1):
        price = round_price(state.base_price * (1 - params.safety_deviation_pct(number) / 100))
        amount = round_amount_down(params.safety_notional(number) / price)
        orders.append(WantedOrder(leg(cycle, f"so{number}"), "buy", "limit", amount, price, f"safety order {number}"))
    if last > state.safety_filled:
        log["next_safety_price"] = decimal_text(orders[1].price or _ZERO)
    return Step(state, tuple(orders), log)


def _stop_loss(cycle: int, position: Decimal) -> tuple[WantedOrder, ...]:
    if position <= 0:
        return ()
    return (WantedOrder(leg(cycle, "sl"), "sell", "market", position, None, "stop loss below the average entry"),)


def lookback(params: DcaParams) -> int:
    """Bars a tick reads: only the last close."""
    return 1
