"""Technical indicators on whole float64 arrays, numerically compatible with TA-Lib.

Every function takes whole arrays and returns arrays of the same length, NaN during the warm-up,
so a live tick and a backtest run the same code on different lengths of history. No output element
reads an input element after it (no look-ahead), and nothing here loops over bars in Python:
the recursive averages (EMA, Wilder) run as a doubling scan of whole-array steps.

Inputs must be finite (candles are checked when they are built). Warm-ups and seeds follow TA-Lib's
default compatibility mode, including its MACD quirk (see `macd`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]

# A recursive average stops looking back once the weight of older terms falls below this: their
# share of any output is then under 1e-17 relative, far below float64 noise.
_NEGLIGIBLE_WEIGHT = 2.0**-64
# TA-Lib's TA_IS_ZERO: RSI answers its `flat` value when gains plus losses are below this.
_TA_ZERO = 1e-14


class Macd(NamedTuple):
    macd: FloatArray
    signal: FloatArray
    hist: FloatArray


class Bands(NamedTuple):
    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


def _floats(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"indicators take one-dimensional arrays, not {array.ndim}-dimensional ones")
    return array


def _check_period(name: str, period: int, minimum: int = 1) -> None:
    if period < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {period}")


def _nans(size: int) -> FloatArray:
    return np.full(size, np.nan, dtype=np.float64)


def _decayed_sum(terms: FloatArray, decay: float) -> FloatArray:
    """`out[t] = sum over j <= t of decay**(t - j) * terms[j]`, the solution of `out[t] = decay * out[t-1] + terms[t]`.

    Doubling scan: after the step with shift s, out[t] holds the terms t-2s+1..t, so log2(n) whole-array
    steps replace a Python loop over bars. Each step only adds earlier elements into later ones.
    """
    out = terms.copy()
    shift, weight = 1, decay
    while shift < out.size and weight >= _NEGLIGIBLE_WEIGHT:
        out[shift:] += weight * out[:-shift]
        shift *= 2
        weight *= weight
    return out


def _smoothed(values: FloatArray, alpha: float, seed_index: int, seed: float) -> FloatArray:
    """`out[seed_index] = seed`, then `out[t] = (1 - alpha) * out[t-1] + alpha * values[t]`; NaN before the seed."""
    out = _nans(values.size)
    terms = alpha * values[seed_index:]
    terms[0] = seed
    out[seed_index:] = _decayed_sum(terms, 1.0 - alpha)
    return out


def _ema_seeded_at(values: FloatArray, period: int, seed_index: int) -> FloatArray:
    """EMA whose first value, at `seed_index`, is the mean of the `period` values ending there (TA-Lib's seed)."""
    if values.size <= seed_index:
        return _nans(values.size)
    seed = float(values[seed_index - period + 1 : seed_index + 1].mean())
    return _smoothed(values, 2.0 / (period + 1), seed_index, seed)


def sma(values: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average of the last `period` values; first value at index period-1."""
    x = _floats(values)
    _check_period("period", period)
    out = _nans(x.size)
    if x.size >= period:
        out[period - 1 :] = sliding_window_view(x, period).mean(axis=1)
    return out


def ema(values: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first `period` values."""
    x = _floats(values)
    _check_period("period", period)
    return _ema_seeded_at(x, period, period - 1)


def rsi(close: npt.ArrayLike, period: int = 14, *, flat: float = 0.0) -> FloatArray:
    """Wilder's RSI: average gain and loss seeded with plain means over the first `period` changes, then
    smoothed with alpha = 1/period. First value at index `period`.

    When prices have not moved (average gain plus loss is zero) TA-Lib answers 0; `flat` sets that
    answer, e.g. NaN for a strategy that should read "no information" there.
    """
    x = _floats(close)
    _check_period("period", period, 2)
    out = _nans(x.size)
    if x.size <= period:
        return out
    change = np.diff(x, prepend=x[0])
    gain = np.maximum(change, 0.0)
    loss = np.maximum(-change, 0.0)
    alpha = 1.0 / period
    avg_gain = _smoothed(gain, alpha, period, float(gain[1 : period + 1].mean()))[period:]
    avg_loss = _smoothed(loss, alpha, period, float(loss[1 : period + 1].mean()))[period:]
    total = avg_gain + avg_loss
    moved = total >= _TA_ZERO
    out[period:] = np.where(moved, 100.0 * avg_gain / np.where(moved, total, 1.0), flat)
    return out


def macd(close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD line (fast EMA - slow EMA), its signal line (EMA of the MACD line) and their difference.

    As in TA-Lib, both EMAs start at index slow-1, the fast one seeded with the mean of the `fast`
    values ending there (so it differs from a standalone EMA(fast)), and all three lines are NaN
    until the signal line starts, at index slow + signal - 2.
    """
    x = _floats(close)
    _check_period("fast", fast, 2)
    _check_period("slow", slow, 2)
    _check_period("signal", signal)
    if fast >= slow:
        raise ValueError("fast must be smaller than slow")
    first = slow + signal - 2
    if x.size <= first:
        return Macd(_nans(x.size), _nans(x.size), _nans(x.size))
    line = _ema_seeded_at(x, fast, slow - 1) - _ema_seeded_at(x, slow, slow - 1)
    signal_line = _ema_seeded_at(line, signal, first)
    line[:first] = np.nan
    return Macd(line, signal_line, line - signal_line)


def bollinger(close: npt.ArrayLike, period: int = 20, std_dev: float = 2.0) -> Bands:
    """SMA(period) plus and minus `std_dev` population standard deviations of the same window
    (TA-Lib BBANDS with matype SMA and nbdevup = nbdevdn = std_dev)."""
    x = _floats(close)
    _check_period("period", period, 2)
    middle = sma(x, period)
    if x.size < period:
        return Bands(_nans(x.size), middle, _nans(x.size))
    windows = sliding_window_view(x, period)
    centered = windows - middle[period - 1 :, np.newaxis]
    width = _nans(x.size)
    width[period - 1 :] = std_dev * np.sqrt((centered * centered).mean(axis=1))
    return Bands(middle + width, middle, middle - width)


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """max(high - low, |high - previous close|, |low - previous close|); NaN at index 0, as in TA-Lib."""
    h, lo, c = _floats(high), _floats(low), _floats(close)
    if not h.size == lo.size == c.size:
        raise ValueError("high, low and close must have the same length")
    out = _nans(h.size)
    if h.size > 1:
        previous = c[:-1]
        out[1:] = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - previous), np.abs(lo[1:] - previous)))
    return out


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's average true range: the mean of the first `period` true ranges at index `period`, then
    smoothed with alpha = 1/period."""
    _check_period("period", period)
    ranges = true_range(high, low, close)
    if ranges.size <= period:
        return _nans(ranges.size)
    return _smoothed(ranges, 1.0 / period, period, float(ranges[1 : period + 1].mean()))
