"""The positions view for the API: each position with realized and unrealized PnL, and totals by
account and by bot. Reads the ledger rows and one ticker per (account, symbol)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from shared.auth.principal import Principal
from shared.exchange.connect import open_exchange
from shared.money import decimal_text
from shared.orders.schemas import AccountPnl, PositionList, PositionOut
from shared.positions.models import list_positions


def positions(caller: Principal) -> PositionList:
    rows = list_positions(caller.tenant_id)
    prices: dict[tuple[str, str], Decimal | None] = {}
    items: list[PositionOut] = []
    by_account: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    by_bot: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        account, symbol = row.account_id or "", row.symbol or ""
        quantity, average = Decimal(row.quantity), Decimal(row.average_entry)
        key = (account, symbol)
        if key not in prices:
            try:
                prices[key] = open_exchange(caller.tenant_id, account).fetch_ticker(symbol).last
            except Exception:  # an unreachable exchange leaves unrealized PnL unknown, not an error
                prices[key] = None
        last = prices[key]
        unrealized = (last - average) * quantity if last is not None else None
        realized = Decimal(row.realized_pnl)
        items.append(
            PositionOut(
                exchange_account_id=account,
                symbol=symbol,
                bot_id=None if row.scope == "manual" else row.scope,
                quantity=decimal_text(quantity),
                average_entry_price=decimal_text(average),
                last_price=None if last is None else str(last),
                realized_pnl=decimal_text(realized),
                unrealized_pnl=None if unrealized is None else decimal_text(unrealized),
                fees=row.fees,
            )
        )
        for bucket in (by_account[account], by_bot[row.scope]):
            bucket[0] += realized
            bucket[1] += unrealized or Decimal(0)
    return PositionList(
        items=items,
        by_account={
            k: AccountPnl(realized_pnl=decimal_text(v[0]), unrealized_pnl=decimal_text(v[1]))
            for k, v in by_account.items()
        },
        by_bot={
            k: AccountPnl(realized_pnl=decimal_text(v[0]), unrealized_pnl=decimal_text(v[1])) for k, v in by_bot.items()
        },
    )
