"""What an indicator strategy answers: the wanted position at every bar, and the values behind it.

An indicator strategy is `evaluate(candles, params) -> Evaluation`: a pure, whole-array function
whose `positions[i]` is the fraction of a full position (0 = flat, 1 = fully long) wanted at the
close of bar i, decided from bars 0..i only, and 0 during the warm-up. A backtest reads every
element; a live tick reads the last one through `Decision`.

Reversion strategies hold a position between their entry and exit conditions, and the bar that
set it may lie before any window a live tick reads. Such bars are marked as carried
(`decided[i]` False): the backtest carries its own earlier position, and a live bot keeps the
position it really holds, which is the same thing when the bot has traded as the backtest did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.strategies.candles import Candles, FloatArray

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Evaluation:
    positions: FloatArray
    indicators: Mapping[str, FloatArray]
    decided: BoolArray | None = None  # False where a bar carries an earlier bar's position; None: every bar decides

    def decision(self, candles: Candles) -> Decision:
        """The decision at the last bar, for the bot's activity log."""
        if len(candles) == 0:
            raise ValueError("no candles to decide on")
        values = {name: float(series[-1]) for name, series in self.indicators.items()}
        return Decision(
            bar_time=int(candles.timestamp[-1]),
            position=float(self.positions[-1]),
            carried=self.decided is not None and not bool(self.decided[-1]),
            indicators={name: None if math.isnan(value) else value for name, value in values.items()},
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The wanted position at the close of the bar that opened at `bar_time` (epoch ms), and the
    indicator values behind it (None while an indicator is still warming up).

    `carried` means the bar met neither the entry nor the exit condition: `position` is then only
    what the window shows, and a live bot keeps the position it holds instead.
    """

    bar_time: int
    position: float
    carried: bool
    indicators: dict[str, float | None]


def level_positions(long: BoolArray) -> FloatArray:
    """1.0 where the condition holds, else 0.0 (a NaN comparison is False, so warm-up bars are flat)."""
    return long.astype(np.float64)


def held_positions(enter: BoolArray, leave: BoolArray) -> FloatArray:
    """1.0 from a bar where `enter` holds until the next bar where `leave` holds, 0.0 before any entry.

    The position in between is carried forward, the vectorized form of "hold until the exit
    condition": a bar marked by either condition sets the state, unmarked bars copy the last marked
    one. A bar marked by both leaves (the safer reading). Only earlier bars are ever copied forward.
    """
    marked = enter | leave
    state = np.where(leave, 0.0, 1.0)
    last_marked = np.maximum.accumulate(np.where(marked, np.arange(marked.size), -1))
    return np.where(last_marked >= 0, state[np.maximum(last_marked, 0)], 0.0)
