"""Indicators: hand-computed values, TA-Lib as an oracle on random walks, and no look-ahead."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import indicators
from shared.indicators import FloatArray

NAN = np.nan
RTOL = 1e-9


def assert_same(actual: FloatArray, expected: list[float] | FloatArray) -> None:
    """Equal to 1e-12 relative, NaN where NaN is expected (the warm-up)."""
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=1e-12, atol=0, equal_nan=True)


# ------------------------------------------------------------------ hand-computed values


def test_sma_by_hand() -> None:
    assert_same(indicators.sma([1, 2, 3, 4, 5], 3), [NAN, NAN, 2, 3, 4])
    assert_same(indicators.sma([4, 8], 1), [4, 8])


def test_ema_is_seeded_with_the_sma_of_the_first_period() -> None:
    # k = 2 / (3 + 1) = 0.5; seed mean(2, 4, 6) = 4; then (8 + 4) / 2 = 6 and (12 + 6) / 2 = 9.
    assert_same(indicators.ema([2, 4, 6, 8, 12], 3), [NAN, NAN, 4, 6, 9])


def test_rsi_uses_wilders_smoothing() -> None:
    # Changes +1, -1, +1, +1. At index 2: gain (1 + 0) / 2, loss (0 + 1) / 2 -> 50.
    # Index 3: gain (0.5 + 1) / 2 = 0.75, loss 0.25 -> 75. Index 4: 0.875 / (0.875 + 0.125) -> 87.5.
    assert_same(indicators.rsi([1, 2, 1, 2, 3], 2), [NAN, NAN, 50, 75, 87.5])


def test_rsi_of_a_market_that_never_moved() -> None:
    flat = [5.0] * 6
    assert_same(indicators.rsi(flat, 3), [NAN, NAN, NAN, 0, 0, 0])  # TA-Lib's answer
    assert np.isnan(indicators.rsi(flat, 3, flat=NAN)).all()


def test_macd_by_hand() -> None:
    # fast=2 (k=2/3) and slow=3 (k=1/2) both start at index 2: fast from mean(2, 4) = 3, slow from
    # mean(1, 2, 4) = 7/3. Index 3: fast 3 + (8-3)*2/3 = 19/3, slow 7/3 + (8-7/3)/2 = 31/6, macd 7/6.
    # Index 4: fast 115/9, slow 127/12, macd 79/36. Signal (2, k=2/3) starts at index 3 from
    # mean(2/3, 7/6) = 11/12; index 4: 11/12 + (79/36 - 11/12) * 2/3 = 191/108.
    lines = indicators.macd([1, 2, 4, 8, 16], fast=2, slow=3, signal=2)
    assert_same(lines.macd, [NAN, NAN, NAN, 7 / 6, 79 / 36])
    assert_same(lines.signal, [NAN, NAN, NAN, 11 / 12, 191 / 108])
    assert_same(lines.hist, [NAN, NAN, NAN, 7 / 6 - 11 / 12, 79 / 36 - 191 / 108])


def test_bollinger_uses_the_population_standard_deviation() -> None:
    bands = indicators.bollinger([1, 2, 3, 5], period=2, std_dev=2.0)
    assert_same(bands.middle, [NAN, 1.5, 2.5, 4])
    assert_same(bands.upper, [NAN, 2.5, 3.5, 6])  # std of (1, 2) is 0.5, of (3, 5) is 1
    assert_same(bands.lower, [NAN, 0.5, 1.5, 2])


def test_atr_by_hand() -> None:
    high, low, close = [3, 4, 6, 5], [1, 2, 3, 2], [2, 3, 5, 3]
    # True ranges 2, 3, 3 (the gaps to the previous close count); ATR(2) = mean(2, 3), then (2.5 + 3) / 2.
    assert_same(indicators.true_range(high, low, close), [NAN, 2, 3, 3])
    assert_same(indicators.atr(high, low, close, 2), [NAN, NAN, 2.5, 2.75])


@pytest.mark.parametrize(
    "compute",
    [
        lambda x: indicators.sma(x, 5),
        lambda x: indicators.ema(x, 5),
        lambda x: indicators.rsi(x, 5),
        lambda x: indicators.macd(x, 2, 4, 2).macd,
        lambda x: indicators.bollinger(x, 5).upper,
        lambda x: indicators.atr(x, x, x, 5),
    ],
    ids=["sma", "ema", "rsi", "macd", "bollinger", "atr"],
)
def test_too_short_history_is_all_warm_up(compute: Callable[[FloatArray], FloatArray]) -> None:
    for size in (0, 1, 4):
        out = compute(np.arange(1.0, size + 1, dtype=np.float64))
        assert out.shape == (size,)
        assert np.isnan(out).all()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="period must be at least 1"):
        indicators.sma([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="period must be at least 2"):
        indicators.rsi([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="fast must be smaller than slow"):
        indicators.macd([1.0, 2.0], 5, 5, 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        indicators.ema([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="same length"):
        indicators.true_range([1.0, 2.0], [1.0], [1.0, 2.0])


# ------------------------------------------------------------------ TA-Lib as the oracle

BARS = 3000


def random_walk(seed: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, BARS)))
    high = close * (1 + rng.uniform(0.0, 0.01, BARS))
    low = close * (1 - rng.uniform(0.0, 0.01, BARS))
    return high, low, close


def assert_matches_talib(ours: FloatArray, theirs: FloatArray, *, atol: float = 0.0) -> None:
    """Same warm-up (NaN positions), then equal to 1e-9 relative."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert not np.isnan(theirs[-1])
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=atol, equal_nan=True)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("period", [2, 5, 14, 50, 200])
def test_moving_averages_match_talib(seed: int, period: int) -> None:
    _, _, close = random_walk(seed)
    assert_matches_talib(indicators.sma(close, period), talib.SMA(close, period))
    assert_matches_talib(indicators.ema(close, period), talib.EMA(close, period))


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("period", [2, 14, 50, 500])
def test_wilder_indicators_match_talib(seed: int, period: int) -> None:
    high, low, close = random_walk(seed)
    assert_matches_talib(indicators.rsi(close, period), talib.RSI(close, period))
    assert_matches_talib(indicators.atr(high, low, close, period), talib.ATR(high, low, close, period))


def test_atr_of_one_bar_is_the_true_range_like_talib() -> None:
    high, low, close = random_walk(3)
    assert_matches_talib(indicators.atr(high, low, close, 1), talib.ATR(high, low, close, 1))
    assert_matches_talib(indicators.true_range(high, low, close), talib.TRANGE(high, low, close))


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (3, 6, 1), (2, 50, 30), (20, 21, 200)])
def test_macd_matches_talib(seed: int, fast: int, slow: int, signal: int) -> None:
    """The MACD lines are differences of price-sized EMAs that often pass through zero, so their
    rounding error is relative to the price, not to the line: the absolute floor is 1e-12 of the
    price level (the errors seen are around 1e-15 of it)."""
    _, _, close = random_walk(seed)
    floor = 1e-12 * float(np.max(close))
    ours = indicators.macd(close, fast, slow, signal)
    theirs = talib.MACD(close, fast, slow, signal)
    for mine, reference in zip(ours, theirs, strict=True):
        assert_matches_talib(mine, reference, atol=floor)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("period", "std_dev"), [(2, 1.0), (20, 2.0), (50, 2.5), (200, 0.5)])
def test_bollinger_matches_talib(seed: int, period: int, std_dev: float) -> None:
    _, _, close = random_walk(seed)
    ours = indicators.bollinger(close, period, std_dev)
    theirs = talib.BBANDS(close, period, std_dev, std_dev)  # matype defaults to SMA
    for mine, reference in zip(ours, theirs, strict=True):
        assert_matches_talib(mine, reference)


# ------------------------------------------------------------------ no look-ahead

INDICATORS: dict[str, Callable[[FloatArray], list[FloatArray]]] = {
    "sma": lambda x: [indicators.sma(x, 3)],
    "ema": lambda x: [indicators.ema(x, 3)],
    "rsi": lambda x: [indicators.rsi(x, 3)],
    "macd": lambda x: list(indicators.macd(x, 2, 5, 3)),
    "bollinger": lambda x: list(indicators.bollinger(x, 4, 2.0)),
    "atr": lambda x: [indicators.atr(x * 1.01, x * 0.99, x, 3)],
}

prices = st.lists(st.floats(min_value=1.0, max_value=1000.0), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(INDICATORS)), series=prices, data=st.data())
def test_no_output_reads_a_later_input(name: str, series: list[float], data: st.DataObject) -> None:
    before = np.array(series)
    cut = data.draw(st.integers(min_value=0, max_value=len(series) - 1), label="cut")
    later = data.draw(
        st.lists(st.floats(1.0, 1000.0), min_size=len(series) - cut - 1, max_size=len(series) - cut - 1), label="later"
    )
    after = np.concatenate([before[: cut + 1], np.array(later)])
    for original, changed in zip(INDICATORS[name](before), INDICATORS[name](after), strict=True):
        np.testing.assert_array_equal(original[: cut + 1], changed[: cut + 1])
