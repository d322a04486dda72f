"""Valid request bodies to start from; tests change one thing at a time."""

from __future__ import annotations

import copy
from typing import Any

BOT: dict[str, Any] = {
    "name": "btc trend",
    "exchange_account_id": "paper",
    "symbol": "BTC/USDT",
    "strategy": {"type": "sma_cross", "params": {"fast": 20, "slow": 50, "timeframe": "1m"}},
    "risk": {"max_position_notional": 1000, "max_daily_loss": 100, "max_open_orders": 2},
}


def bot(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(BOT)
    body.update(changes)
    return body
