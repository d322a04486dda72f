"""A grid as a pure step function (see `GridParams` for the levels, `order_plan` for the contract).

The grid's n levels bound n-1 cells. Each cell has one resting order: a buy at its lower level or
a sell at its upper level. When a cell's buy fills, it re-arms as a sell one level up; when its
sell fills, it re-arms as a buy one level down, and one round trip is done. Leg
`grid:L<level>:<side>:n<flips>` names the order by its level, side and how many times its cell has
flipped, so each re-armed order is a new leg.

On the first step, cells below the last close buy and cells above it sell (the cell around the
close buys, so no order sits on the close's own level). The sells need coins: one market buy
(`grid:init`) of one order amount per initial sell cell is wanted first, and those sells rest only
once it has closed. Outside [lower, upper] the orders keep resting; nothing else happens.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.money import decimal_text
from shared.strategies.candles import Candles
from shared.strategies.order_plan import Fill, LogValue, Side, Step, WantedOrder, price_of
from shared.strategies.quantities import DECIMAL_DIGITS
from shared.strategies.stepped_params import GridParams

INIT_LEG = "grid:init"
_LEG = re.compile(r"^grid:L(?P<level>[0-9]+):(?P<side>buy|sell):n(?P<flips>[0-9]+)$")


class GridState(BaseModel):
    """Which side each cell rests on and how often it flipped. Empty until the first step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    cells: tuple[Side, ...] = ()
    flips: tuple[int, ...] = ()
    initial_sells: int = 0
    inventory_ready: bool = False
    round_trips: int = 0


def leg(level: int, side: Side, flips: int) -> str:
    return f"grid:L{level}:{side}:n{flips}"


def _start(params: GridParams, close: Decimal) -> GridState:
    prices = params.level_prices()
    cells: tuple[Side, ...] = tuple("sell" if prices[i] >= close else "buy" for i in range(params.levels - 1))
    sells = cells.count("sell")
    return GridState(cells=cells, flips=(0,) * len(cells), initial_sells=sells, inventory_ready=sells == 0)


def _apply(state: GridState, fill: Fill) -> GridState:
    if fill.leg == INIT_LEG:
        return state.model_copy(update={"inventory_ready": True}) if fill.closes_order else state
    match = _LEG.match(fill.leg)
    if match is None:
        raise ValueError(f"not a grid leg: {fill.leg!r}")
    side: Side = "buy" if match["side"] == "buy" else "sell"
    cell = int(match["level"]) - (0 if side == "buy" else 1)
    if not fill.closes_order or not 0 <= cell < len(state.cells):
        return state
    if state.cells[cell] != side or state.flips[cell] != int(match["flips"]):
        return state  # a late fill of an order the grid has already moved past
    cells, flips = list(state.cells), list(state.flips)
    cells[cell] = "sell" if side == "buy" else "buy"
    flips[cell] += 1
    trips = state.round_trips + (1 if side == "sell" else 0)
    return state.model_copy(update={"cells": tuple(cells), "flips": tuple(flips), "round_trips": trips})


def step(
    params: GridParams, state: GridState | None, candles: Candles, fills: tuple[Fill, ...] = ()
) -> Step[GridState]:
    """Apply `fills`, then want one resting order per cell (and the initial inventory buy until it closes)."""
    if len(candles) == 0:
        raise ValueError("grid needs the last closed candle")
    with localcontext(prec=DECIMAL_DIGITS, rounding=ROUND_HALF_EVEN):
        close = price_of(candles.close[-1])
        current = state if state is not None and state.cells else _start(params, close)
        if len(current.cells) != params.levels - 1:
            raise ValueError("the grid state was made for another number of levels: start a new state")
        for fill in fills:
            current = _apply(current, fill)
        return _decide(params, current, close)


def _decide(params: GridParams, state: GridState, close: Decimal) -> Step[GridState]:
    prices = params.level_prices()
    orders: list[WantedOrder] = []
    if not state.inventory_ready:
        amount = params.order_amount * state.initial_sells
        orders.append(WantedOrder(INIT_LEG, "buy", "market", amount, None, "coins for the grid's initial sells"))
    for cell, (side, flips) in enumerate(zip(state.cells, state.flips, strict=True)):
        if side == "buy":
            reason = "grid buy" if flips == 0 else "re-armed after the sell above filled"
            orders.append(
                WantedOrder(leg(cell, "buy", flips), "buy", "limit", params.order_amount, prices[cell], reason)
            )
        elif state.inventory_ready or flips > 0:  # an initial sell waits for its coins
            reason = "grid sell" if flips == 0 else "re-armed after the buy below filled"
            orders.append(
                WantedOrder(
                    leg(cell + 1, "sell", flips), "sell", "limit", params.order_amount, prices[cell + 1], reason
                )
            )
    log: dict[str, LogValue] = {
        "close": decimal_text(close),
        "resting_buys": sum(1 for order in orders if order.side == "buy" and order.type == "limit"),
        "resting_sells": sum(1 for order in orders if order.side == "sell"),
        "round_trips": state.round_trips,
        "in_range": "yes" if params.lower_price <= close <= params.upper_price else "no",
    }
    return Step(state, tuple(orders), log)


def lookback(params: GridParams) -> int:
    """Bars a tick reads: only the last close."""
    return 1
