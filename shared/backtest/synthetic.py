"""Deterministic synthetic candles: the offline default data source for backtests.

The same (symbol, timeframe, seed) is one fixed price history on a bar grid from 2010-01-01 UTC:
any date range is a window onto it, so two backtests over overlapping ranges see the same bars
where they overlap, and a result can be reproduced from its request alone.

How: the log price is pinned every 1,024 bars ("anchors", a slowly mean-reverting random walk drawn
from one stream from the epoch on: a few thousand numbers even for minute bars) and filled in
between with a Brownian bridge drawn from a generator seeded by (symbol, timeframe, seed, chunk).
A window therefore draws only its own chunks. Bars are continuous (each open is the previous
close), wicks extend beyond the body by a random fraction of the bar's volatility, and the
volatility is 80 % a year at every timeframe. Not a market model: a reproducible, valid series.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from shared.backtest.candles import TIMEFRAME_MS, Candles, FloatArray
from shared.errors import ValidationFailed

EPOCH_MS = 1_262_304_000_000  # 2010-01-01T00:00:00Z: bar 0 of every grid
CHUNK_BARS = 1024
ANNUAL_VOLATILITY = 0.8
MEAN_REVERSION_HALF_LIFE_DAYS = 730.0
MAX_BARS = 10_000_000  # ~19 years of minute bars, ~400 MB of arrays
_YEAR_MS = 365 * 86_400_000


def synthetic_candles(symbol: str, timeframe: str, start_ms: int, end_ms: int, *, seed: int = 0) -> Candles:
    """Bars whose open time lies in [start_ms, end_ms), on the timeframe's grid from the epoch."""
    if timeframe not in TIMEFRAME_MS:
        raise ValidationFailed(f"unknown timeframe {timeframe!r}", details={"field": "timeframe"})
    bar_ms = TIMEFRAME_MS[timeframe]
    if start_ms < EPOCH_MS:
        raise ValidationFailed("synthetic candles start on 2010-01-01", details={"field": "start"})
    first = -(-(start_ms - EPOCH_MS) // bar_ms)  # ceil: the first bar opening at or after start
    stop = -(-(end_ms - EPOCH_MS) // bar_ms)
    count = stop - first
    if count <= 0:
        raise ValidationFailed("the date range holds no complete bar of this timeframe", details={"field": "end"})
    if count > MAX_BARS:
        raise ValidationFailed(f"at most {MAX_BARS} synthetic bars per request", details={"bars": count})

    key = _key(symbol, timeframe, seed)
    sigma = ANNUAL_VOLATILITY * math.sqrt(bar_ms / _YEAR_MS)
    first_chunk, last_chunk = first // CHUNK_BARS, stop // CHUNK_BARS
    anchors = _anchors(key, last_chunk + 1, sigma, bar_ms)
    chunks = range(first_chunk, last_chunk + 1)
    shocks = np.empty((len(chunks), 4, CHUNK_BARS))
    for row, chunk in enumerate(chunks):
        shocks[row] = np.random.default_rng([key, 1, chunk]).standard_normal((4, CHUNK_BARS))

    # Log price at every bar boundary of the chunks: a Brownian bridge from anchor c to anchor c + 1.
    walk = np.cumsum(shocks[:, 0, :] * sigma, axis=1)  # W_1 .. W_CHUNK
    fraction = np.arange(CHUNK_BARS) / CHUNK_BARS  # j / CHUNK for j = 0 .. CHUNK - 1
    start_level = anchors[first_chunk : last_chunk + 1, None]
    end_level = anchors[first_chunk + 1 : last_chunk + 2, None]
    bridge = np.zeros_like(walk)
    bridge[:, 1:] = walk[:, :-1] - fraction[1:] * walk[:, -1:]
    log_price = (start_level + bridge + fraction * (end_level - start_level)).ravel()
    # point k (relative to the first chunk's start) opens bar k and closes bar k - 1
    offset = first - first_chunk * CHUNK_BARS
    points = np.exp(log_price[offset : offset + count + 1])
    opens, closes = points[:-1], points[1:]
    wick_up = shocks[:, 1, :].ravel()[offset : offset + count]
    wick_down = shocks[:, 2, :].ravel()[offset : offset + count]
    volume_shock = shocks[:, 3, :].ravel()[offset : offset + count]
    highs = np.maximum(opens, closes) * np.exp(np.abs(wick_up) * (0.6 * sigma))
    lows = np.minimum(opens, closes) * np.exp(-np.abs(wick_down) * (0.6 * sigma))
    volumes = _base_volume(key) * np.exp(0.5 * volume_shock)
    timestamps = EPOCH_MS + np.arange(first, stop, dtype=np.int64) * bar_ms
    return Candles.from_arrays(timestamps, opens, highs, lows, closes, volumes)


def _key(symbol: str, timeframe: str, seed: int) -> int:
    """A stable 63-bit key (Python's `hash` of a str changes between processes)."""
    digest = hashlib.blake2b(f"{symbol}|{timeframe}|{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _anchors(key: int, count: int, sigma: float, bar_ms: int) -> FloatArray:
    """Log prices at bars 0, CHUNK, 2 x CHUNK, ... (count + 1 of them), mean-reverting to the symbol's
    starting level so a long history neither explodes nor fades to zero."""
    start = math.log(10 ** (1 + 3.5 * ((key % 1_000_003) / 1_000_003)))  # 10 .. ~30,000
    chunk_sigma = sigma * math.sqrt(CHUNK_BARS)
    pull = 1.0 - 0.5 ** (CHUNK_BARS * bar_ms / (MEAN_REVERSION_HALF_LIFE_DAYS * 86_400_000))
    steps = (np.random.default_rng([key, 0]).standard_normal(count) * chunk_sigma).tolist()
    levels = [start]
    level = start
    for step in steps:
        level += step - pull * (level - start)
        levels.append(level)
    return np.array(levels)


def _base_volume(key: int) -> float:
    return float(10 ** (2 + (key % 997) / 997 * 3))
