"""Applying fills to positions: average-cost accounting, realized PnL net of fees.

Pure arithmetic first (`apply`), so the accounting is unit-tested without a database; the
trade path stages the resulting rows in the same transaction as the order update, which is
what makes a fill count exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pynamodb.transactions import TransactWrite

from shared.positions.models import PositionRecord, daily_key, get_position_row, get_position_rows, position_key


@dataclass(frozen=True)
class PositionState:
    quantity: Decimal
    average_entry: Decimal
    realized_pnl: Decimal
    fees: Decimal


def apply(
    state: PositionState, side: str, amount: Decimal, price: Decimal, fee: Decimal
) -> tuple[PositionState, Decimal]:
    """The position after a fill, and the PnL the fill realized (fees included)."""
    signed = amount if side == "buy" else -amount
    quantity, average = state.quantity, state.average_entry
    realized = -fee
    if quantity == 0 or (quantity > 0) == (signed > 0):
        new_quantity = quantity + signed
        average = (abs(quantity) * average + amount * price) / abs(new_quantity)
    else:
        closing = min(abs(signed), abs(quantity))
        direction = 1 if quantity > 0 else -1
        realized += (price - average) * closing * direction
        new_quantity = quantity + signed
        if new_quantity == 0:
            average = Decimal(0)
        elif (new_quantity > 0) != (quantity > 0):
            average = price  # flipped: the remainder opened at this price
    return PositionState(new_quantity, average, state.realized_pnl + realized, state.fees + fee), realized


def stage_fill(
    tx: TransactWrite,
    *,
    tenant_id: str,
    account_id: str,
    symbol: str,
    scope: str,
    side: str,
    amount: Decimal,
    price: Decimal,
    fee: Decimal,
    at: datetime,
) -> None:
    """Stage the position and daily-PnL rows for one fill (version-checked saves)."""
    key, day_key = position_key(account_id, symbol, scope), daily_key(scope, at)
    rows = get_position_rows(tenant_id, [key, day_key])
    row = rows.get(key) or PositionRecord(
        tenant_id=tenant_id, position_key=key, account_id=account_id, symbol=symbol, scope=scope
    )
    state = PositionState(
        Decimal(row.quantity), Decimal(row.average_entry), Decimal(row.realized_pnl), Decimal(row.fees)
    )
    new_state, realized = apply(state, side, amount, price, fee)
    row.quantity, row.average_entry = str(new_state.quantity), str(new_state.average_entry)
    row.realized_pnl, row.fees, row.updated_at = str(new_state.realized_pnl), str(new_state.fees), at
    tx.save(row)
    day = rows.get(day_key) or PositionRecord(tenant_id=tenant_id, position_key=day_key, scope=scope)
    day.realized_pnl = str(Decimal(day.realized_pnl) + realized)
    day.updated_at = at
    tx.save(day)


def held_and_realized_today(
    tenant_id: str, account_id: str, symbol: str, scope: str, now: datetime
) -> tuple[Decimal, Decimal]:
    """What a bot's risk limits weigh: its position and today's realized PnL, in one read."""
    held, day = position_key(account_id, symbol, scope), daily_key(scope, now)
    rows = get_position_rows(tenant_id, [held, day])
    position, pnl = rows.get(held), rows.get(day)
    return (
        Decimal(position.quantity) if position else Decimal(0),
        Decimal(pnl.realized_pnl) if pnl else Decimal(0),
    )


def position_quantity(tenant_id: str, account_id: str, symbol: str, scope: str) -> Decimal:
    row = get_position_row(tenant_id, position_key(account_id, symbol, scope))
    return Decimal(row.quantity) if row else Decimal(0)
