"""The synthetic candle generator: valid, deterministic, and one history per (symbol, timeframe, seed)."""

from __future__ import annotations

import numpy as np
import pytest

from shared.backtest.candles import TIMEFRAME_MS, Candles
from shared.backtest.synthetic import CHUNK_BARS, EPOCH_MS, synthetic_candles
from shared.errors import ValidationFailed

JAN_2025 = 1_735_689_600_000
DAY = 86_400_000


def same(a: Candles, b: Candles) -> bool:
    return all(
        np.array_equal(getattr(a, name), getattr(b, name))
        for name in ("timestamps", "open", "high", "low", "close", "volume")
    )


@pytest.mark.parametrize("timeframe", list(TIMEFRAME_MS))
def test_bars_are_valid_and_on_the_timeframe_grid(timeframe: str) -> None:
    bar_ms = TIMEFRAME_MS[timeframe]
    candles = synthetic_candles("BTC/USDT", timeframe, JAN_2025, JAN_2025 + 3000 * bar_ms)
    assert len(candles) == 3000
    candles.validate()  # positive, finite, high >= max(open, close), low <= min(open, close)
    assert np.all(np.diff(candles.timestamps) == bar_ms)
    assert candles.timestamps[0] == JAN_2025
    assert np.array_equal(candles.open[1:], candles.close[:-1])  # continuous
    assert np.all(candles.high > np.maximum(candles.open, candles.close) * 0.999999)
    assert np.all(candles.volume > 0)


def test_the_same_request_gives_the_same_bars() -> None:
    a = synthetic_candles("ETH/USDT", "5m", JAN_2025, JAN_2025 + 2 * DAY)
    b = synthetic_candles("ETH/USDT", "5m", JAN_2025, JAN_2025 + 2 * DAY)
    assert same(a, b)


def test_overlapping_ranges_see_the_same_bars_across_chunk_boundaries() -> None:
    minute = TIMEFRAME_MS["1m"]
    year = synthetic_candles("BTC/USDT", "1m", JAN_2025, JAN_2025 + 40 * DAY)
    # a window starting mid-chunk, ending in another chunk, with an unaligned start time
    window = synthetic_candles("BTC/USDT", "1m", JAN_2025 + 1000 * minute + 5, JAN_2025 + 5000 * minute)
    assert len(window) == 3999
    assert np.array_equal(window.timestamps, year.timestamps[1001:5000])
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(window, name), getattr(year, name)[1001:5000]), name
    assert CHUNK_BARS * 4 < 1000 + 3999  # the window spans several chunks


def test_symbols_and_seeds_are_different_histories() -> None:
    base = synthetic_candles("BTC/USDT", "1h", JAN_2025, JAN_2025 + 10 * DAY)
    assert not np.array_equal(base.close, synthetic_candles("ETH/USDT", "1h", JAN_2025, JAN_2025 + 10 * DAY).close)
    assert not np.array_equal(
        base.close, synthetic_candles("BTC/USDT", "1h", JAN_2025, JAN_2025 + 10 * DAY, seed=1).close
    )


def test_a_long_daily_history_stays_in_a_sane_range() -> None:
    candles = synthetic_candles("SOL/USDT", "1d", EPOCH_MS, EPOCH_MS + 16 * 365 * DAY)
    assert candles.close.max() / candles.close.min() < 1e4


@pytest.mark.parametrize(
    ("timeframe", "start", "end", "message"),
    [
        ("2m", JAN_2025, JAN_2025 + DAY, "unknown timeframe"),
        ("1m", EPOCH_MS - DAY, JAN_2025, "start on 2010"),
        ("1d", JAN_2025, JAN_2025, "no complete bar"),
        ("1d", JAN_2025 + DAY, JAN_2025, "no complete bar"),
        ("1m", EPOCH_MS, EPOCH_MS + 20 * 365 * DAY, "at most"),
    ],
)
def test_bad_requests_are_refused(timeframe: str, start: int, end: int, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        synthetic_candles("BTC/USDT", timeframe, start, end)
