"""How many bars a live tick must read so its decision matches one made on the whole history.

Moving averages over a window (SMA, Bollinger) need exactly that window. Recursive ones (EMA,
Wilder's RSI) remember every earlier bar with a weight that decays geometrically; a window is long
enough once what it leaves out weighs less than SETTLE_WEIGHT, so the live value differs from the
backtest's by less than that relative amount and a decision can differ only on an exact tie.
"""

from __future__ import annotations

import math

SETTLE_WEIGHT = 1e-9


def settle_bars(decay: float) -> int:
    """Bars after which `decay ** bars` falls below SETTLE_WEIGHT."""
    return math.ceil(math.log(SETTLE_WEIGHT) / math.log(decay))


def ema_settle_bars(period: int) -> int:
    """Settling bars of an EMA (k = 2 / (period + 1))."""
    return settle_bars((period - 1) / (period + 1))


def wilder_settle_bars(period: int) -> int:
    """Settling bars of Wilder's smoothing (alpha = 1 / period)."""
    return settle_bars((period - 1) / period)
