"""Which market a bot reads, and the bar clock of a timeframe.

Numpy-free and I/O-free: the bots API imports it when a bot starts, the scheduler for every tick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TIMEFRAME_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
    "1w": 604_800_000,
}
# Stepped strategies without a timeframe of their own (grid) look at the price every minute.
DEFAULT_TIMEFRAME = "1m"


@dataclass(frozen=True, slots=True)
class MarketKey:
    """One market's candles: the exchange (`paper` for the paper exchange), symbol and timeframe."""

    exchange_id: str
    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.exchange_id}|{self.symbol}|{self.timeframe}"

    @classmethod
    def parse(cls, text: str) -> MarketKey:
        exchange_id, symbol, timeframe = text.split("|")
        if timeframe not in TIMEFRAME_MS:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        return cls(exchange_id, symbol, timeframe)

    @property
    def span_ms(self) -> int:
        return TIMEFRAME_MS[self.timeframe]


def strategy_timeframe(strategy: dict[str, Any]) -> str:
    """The timeframe a stored strategy ticks on (`timeframe`, dca's `interval`, else every minute)."""
    params = strategy.get("params") or {}
    timeframe = params.get("timeframe") or params.get("interval") or DEFAULT_TIMEFRAME
    return str(timeframe)


def bot_market(exchange_id: str, symbol: str, strategy_json: str) -> MarketKey:
    return MarketKey(exchange_id, symbol, strategy_timeframe(json.loads(strategy_json)))


def last_close_ms(now_ms: int, timeframe: str) -> int:
    """Close time of the newest bar closed at `now_ms` (bars are aligned to the epoch, as exchanges align them)."""
    span = TIMEFRAME_MS[timeframe]
    return now_ms // span * span


def next_close_ms(now_ms: int, timeframe: str) -> int:
    """Close time of the bar open at `now_ms`: when the next tick is due."""
    return last_close_ms(now_ms, timeframe) + TIMEFRAME_MS[timeframe]
