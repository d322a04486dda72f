"""A bot's performance: realized and unrealized PnL and fees from the ledger, trades and win rate
from replaying its fills.

Realized PnL is net of fees (the ledger's rule). A trade is a fill that reduces the position (a
round trip closed, in whole or in part); it is a win when what it realized, its own fee
included, is positive. Unrealized PnL marks the position at the last close of the market the bot
reads (the Candles table), so the endpoint needs no exchange call.
"""

from __future__ import annotations

import json
from decimal import Decimal

from pydantic import BaseModel

from shared.bots.models import BotRecord
from shared.market_data.markets import MarketKey
from shared.market_data.store import stored_candles
from shared.money import decimal_text
from shared.orders.models import OrderRecord
from shared.positions.ledger import PositionState, apply
from shared.positions.models import get_position_row, position_key


class PerformanceOut(BaseModel):
    bot_id: str
    symbol: str
    position: str
    average_entry_price: str
    last_price: str | None
    realized_pnl: str
    unrealized_pnl: str | None
    fees: str
    trades: int
    winning_trades: int
    win_rate: float | None
    filled_orders: int


def _last_price(market_key: str | None) -> Decimal | None:
    if not market_key:
        return None
    try:
        row = stored_candles(MarketKey.parse(market_key))
    except ValueError:  # not a market key we can read
        return None
    if row is None:
        return None
    bars = row.bars()
    return Decimal(repr(bars[-1][4])) if bars else None


def _trades(bot: BotRecord) -> tuple[int, int, int]:
    """(closing trades, winning ones, filled orders), replaying every fill of the bot's orders."""
    fills: list[tuple[str, str, Decimal, Decimal, Decimal]] = []
    filled_orders = 0
    for order in OrderRecord.by_created.query(bot.tenant_id, filter_condition=OrderRecord.bot_id == bot.bot_id):
        order_fills = json.loads(order.fills_json)
        filled_orders += 1 if order_fills else 0
        for fill in order_fills:
            fills.append(
                (
                    fill["at"],
                    order.side,
                    Decimal(fill["amount"]),
                    Decimal(fill["price"]),
                    Decimal(fill.get("fee") or "0"),
                )
            )
    state = PositionState(Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    trades = wins = 0
    for _, side, amount, price, fee in sorted(fills, key=lambda f: f[0]):
        closing = state.quantity != 0 and (state.quantity > 0) != (side == "buy")
        state, realized = apply(state, side, amount, price, fee)
        if closing:
            trades += 1
            wins += 1 if realized > 0 else 0
    return trades, wins, filled_orders


def bot_performance(bot: BotRecord) -> PerformanceOut:
    row = get_position_row(bot.tenant_id, position_key(bot.exchange_account_id, bot.symbol, bot.bot_id))
    quantity = Decimal(row.quantity) if row else Decimal(0)
    average = Decimal(row.average_entry) if row else Decimal(0)
    last = _last_price(bot.market_key)
    unrealized = None if last is None else (last - average) * quantity
    trades, wins, filled = _trades(bot)
    return PerformanceOut(
        bot_id=bot.bot_id,
        symbol=bot.symbol,
        position=decimal_text(quantity),
        average_entry_price=decimal_text(average),
        last_price=None if last is None else decimal_text(last),
        realized_pnl=decimal_text(Decimal(row.realized_pnl) if row else Decimal(0)),
        unrealized_pnl=None if unrealized is None else decimal_text(unrealized),
        fees=decimal_text(Decimal(row.fees) if row else Decimal(0)),
        trades=trades,
        winning_trades=wins,
        win_rate=None if trades == 0 else wins / trades,
        filled_orders=filled,
    )
