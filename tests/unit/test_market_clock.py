"""The bar clock the scheduler and the strategy worker agree on, and which market a bot reads."""

from __future__ import annotations

import pytest

from shared.market_data.markets import MarketKey, bot_market, last_close_ms, next_close_ms, strategy_timeframe

MINUTE = 60_000
HOUR = 3_600_000


@pytest.mark.parametrize(
    ("now", "timeframe", "last", "following"),
    [
        (10 * HOUR + 59_999, "1m", 10 * HOUR + 0, 10 * HOUR + MINUTE),  # the minute bar 10:00 is still open
        (10 * HOUR + MINUTE, "1m", 10 * HOUR + MINUTE, 10 * HOUR + 2 * MINUTE),  # it closes exactly on the minute
        (10 * HOUR + 30 * MINUTE, "1h", 10 * HOUR, 11 * HOUR),
        (10 * HOUR + 30 * MINUTE, "4h", 8 * HOUR, 12 * HOUR),  # bars aligned to the epoch, as exchanges align them
    ],
)
def test_last_and_next_bar_close(now: int, timeframe: str, last: int, following: int) -> None:
    assert last_close_ms(now, timeframe) == last
    assert next_close_ms(now, timeframe) == following


@pytest.mark.parametrize(
    ("strategy", "timeframe"),
    [
        ({"type": "sma_cross", "params": {"fast": 2, "slow": 5, "timeframe": "15m"}}, "15m"),
        ({"type": "dca", "params": {"interval": "1d", "order_notional": "10"}}, "1d"),  # dca's cadence is its interval
        ({"type": "grid", "params": {"lower_price": "1", "upper_price": "2", "levels": 3, "order_amount": "1"}}, "1m"),
        ({"type": "rsi_reversion", "params": {}}, "1m"),  # the schema's default
    ],
)
def test_the_timeframe_a_strategy_ticks_on(strategy: dict[str, object], timeframe: str) -> None:
    assert strategy_timeframe(strategy) == timeframe


def test_market_keys_round_trip_and_refuse_unknown_timeframes() -> None:
    market = bot_market(
        "paper", "BTC/USDT", '{"type": "ema_cross", "params": {"fast": 3, "slow": 9, "timeframe": "1h"}}'
    )
    assert str(market) == "paper|BTC/USDT|1h" and market.span_ms == HOUR
    assert MarketKey.parse(str(market)) == market
    with pytest.raises(ValueError, match="timeframe"):
        MarketKey.parse("paper|BTC/USDT|7m")
