"""A range of history from an exchange's public candles, a page at a time (the backtests'
`exchange` data source).

Only the backtest worker calls this, and only through `shared.exchange` (the one place that
imports ccxt, one exchange class at a time). A page is `fetch_ohlcv(since=...)`; the next page
starts one bar after the newest bar received, so overlapping pages are merged, a gap inside the
range stays a gap (the exchange skips it), and the loop ends on an empty page, on a page that
makes no progress, or past the range. Bars opening before `start_ms`, at or after `end_ms`, or not
yet closed at `now_ms` are dropped: history never includes a bar still moving.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.errors import ExchangeRejected, ValidationFailed
from shared.exchange.protocol import Candle
from shared.market_data.markets import TIMEFRAME_MS

PAGE_BARS = 1000  # bars asked per request: Binance's and Bybit's maximum; others return fewer
FetchPage = Callable[[int, int], list[Candle]]  # (since ms, limit) -> candles opening at or after since


def fetch_history(fetch_page: FetchPage, timeframe: str, start_ms: int, end_ms: int, *, now_ms: int) -> list[Candle]:
    """The closed bars opening in [start_ms, end_ms), oldest first, one `fetch_page` call per page."""
    span = TIMEFRAME_MS[timeframe]
    last_open = min(end_ms - 1, now_ms - span)  # the newest bar that is in range and closed
    bars: dict[int, Candle] = {}
    since = start_ms
    while since <= last_open:  # ends: every page that is used moves `since` past its newest bar
        page = [c for c in fetch_page(since, PAGE_BARS) if since <= c.timestamp_ms <= last_open]
        if not page:
            break
        for candle in page:
            bars[candle.timestamp_ms] = candle
        since = max(c.timestamp_ms for c in page) + span
    return [bars[t] for t in sorted(bars)]


def exchange_history(
    exchange_id: str, symbol: str, timeframe: str, start_ms: int, end_ms: int, *, now_ms: int
) -> list[Candle]:
    """`fetch_history` from the exchange's public API (no credentials). An exchange that refuses
    the market (unknown symbol, unsupported timeframe) is a ValidationFailed naming it; a
    temporary failure (network, rate limit, 5xx) is raised as ExchangeTemporary, for a retry."""
    from shared.exchange.ccxt_adapter import CcxtExchange
    from shared.exchange.connect import public_exchange

    exchange = public_exchange(exchange_id)
    if not isinstance(exchange, CcxtExchange):
        raise ValidationFailed(f"{exchange_id!r} has no public history: use the synthetic source")
    try:
        return fetch_history(
            lambda since, limit: exchange.fetch_ohlcv_since(symbol, timeframe, since, limit),
            timeframe,
            start_ms,
            end_ms,
            now_ms=now_ms,
        )
    except ExchangeRejected as exc:
        raise ValidationFailed(
            f"{exchange_id} refused the candles of {symbol} {timeframe}: {exc.message}",
            details={"field": "data_source"},
        ) from None
