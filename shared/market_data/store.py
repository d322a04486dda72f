"""The Candles table: the last closed bars of each market, fetched once per bar and read by every bot on it.

One row per market holds its newest bars as JSON (`[open time ms, open, high, low, close, volume]`,
oldest first). A bar is stored only once it has closed and the exchange has reported it: a late or
missing bar is fetched again on the next read, never invented. A window with a hole in it is a
`Gap`, which the strategy worker reports on the bot's activity instead of deciding on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.errors import AppError
from shared.exchange.protocol import Candle
from shared.market_data.markets import MarketKey
from shared.observability import logger
from shared.persistence import BaseMeta, get_or_none

if TYPE_CHECKING:
    from shared.strategies.candles import Candles

Bar = list[float]  # [open time ms, open, high, low, close, volume]
Fetch = Callable[[MarketKey, int, int], list[Candle]]  # (market, bars, now ms) -> candles


class CandlesRecord(Model):
    class Meta(BaseMeta):
        table_setting = "candles_table"

    market = UnicodeAttribute(hash_key=True)  # str(MarketKey)
    bars_json = UnicodeAttribute()
    last_open_ms = NumberAttribute()
    fetched_at = UTCDateTimeAttribute()

    def bars(self) -> list[Bar]:
        loaded: list[Bar] = json.loads(self.bars_json)
        return loaded


@dataclass(frozen=True, slots=True)
class Refresh:
    """What a refresh found: whether it called the exchange, and the newest bar it now holds."""

    market: MarketKey
    fetched: bool
    last_open_ms: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """Why a window could not be read: the bars it needs are missing or not contiguous."""

    reason: str
    wanted_close_ms: int
    last_open_ms: int | None


def exchange_fetch(market: MarketKey, bars: int, now_ms: int) -> list[Candle]:
    """Public candles from the market's exchange: the paper exchange's come from the very price
    source it fills at, so a paper bot trades at the prices its candles show."""
    if market.exchange_id == "paper":
        from shared.exchange.paper import PaperExchange

        return PaperExchange("public", clock_ms=lambda: now_ms).fetch_ohlcv(market.symbol, market.timeframe, bars)
    from shared.exchange.connect import public_exchange

    return public_exchange(market.exchange_id).fetch_ohlcv(market.symbol, market.timeframe, bars)


def stored_candles(market: MarketKey) -> CandlesRecord | None:
    """The market's stored row (its last bars), if any."""
    return get_or_none(CandlesRecord, str(market))


def _closed(candles: list[Candle], market: MarketKey, now_ms: int) -> list[Bar]:
    span = market.span_ms
    return [
        [c.timestamp_ms, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)]
        for c in candles
        if c.timestamp_ms + span <= now_ms
    ]


def refresh_market(
    market: MarketKey, bars: int, now_ms: int, *, fetch: Fetch = exchange_fetch, stored: CandlesRecord | None = None
) -> Refresh:
    """Make sure the Candles row holds the bar that closed last before `now_ms`, calling the
    exchange only when it does not: however many bots (or scheduler runs) ask in one bar, a
    market is fetched once. An exchange error leaves the row as it was."""
    span = market.span_ms
    wanted_open = now_ms // span * span - span
    needed = min(max(bars, 1), get_settings().market_data_max_bars)
    row = stored if stored is not None else stored_candles(market)
    if row is not None and int(row.last_open_ms) >= wanted_open:
        fetched_since_close = int(row.fetched_at.timestamp() * 1000) >= wanted_open + span
        if len(row.bars()) >= needed or fetched_since_close:  # long enough, or all the exchange has
            return Refresh(market, fetched=False, last_open_ms=int(row.last_open_ms))
    limit = needed + 1  # +1: the bar still open
    try:
        fetched = _closed(fetch(market, limit, now_ms), market, now_ms)
    except AppError as exc:
        logger.warning("candles fetch failed", extra={"market": str(market), "error": exc.code})
        return Refresh(market, True, None if row is None else int(row.last_open_ms), error=exc.code)
    merged = {int(bar[0]): bar for bar in (row.bars() if row is not None else [])}
    merged.update({int(bar[0]): bar for bar in fetched})
    if not merged:
        return Refresh(market, True, None, error="no_candles")
    keep = [merged[t] for t in sorted(merged)][-get_settings().market_data_max_bars :]
    last_open = int(keep[-1][0])
    CandlesRecord(
        market=str(market),
        bars_json=json.dumps(keep, separators=(",", ":")),
        last_open_ms=last_open,
        fetched_at=datetime.fromtimestamp(now_ms / 1000, UTC),  # the clock the caller decided on
    ).save()
    return Refresh(market, True, last_open)


def read_window(
    market: MarketKey, bars: int, close_ms: int, *, now_ms: int | None = None, fetch: Fetch = exchange_fetch
) -> Candles | Gap:
    """The `bars` bars up to the one closing at `close_ms`, fetched again if the store lacks it.

    Bars after it (a late tick) are left out, so a redelivered tick decides on what its bar saw.
    Fewer bars than asked are fine when the store holds no more (the strategy warms up on them);
    a hole inside the window is a Gap.
    """
    from shared.strategies.candles import Candles

    span = market.span_ms
    wanted_open = close_ms - span
    row = stored_candles(market)
    refresh = refresh_market(market, bars, max(now_ms or 0, close_ms), fetch=fetch, stored=row)
    if refresh.fetched and refresh.error is None:
        row = stored_candles(market)
    stored = [] if row is None else [bar for bar in row.bars() if int(bar[0]) <= wanted_open]
    last_open = int(stored[-1][0]) if stored else None
    if last_open != wanted_open:
        return Gap("the bar has not been reported by the exchange", close_ms, last_open)
    window = stored[-max(bars, 1) :]
    times = [int(bar[0]) for bar in window]
    if any(later - earlier != span for earlier, later in pairwise(times)):
        return Gap("bars are missing inside the window", close_ms, last_open)
    return Candles.from_rows(window)
