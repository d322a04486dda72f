"""Candles as the strategies read them: one read-only numpy array per field, oldest bar first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _frozen(values: npt.ArrayLike, dtype: type[np.float64] | type[np.int64], name: str) -> npt.NDArray[np.generic]:
    array = np.array(values, dtype=dtype, copy=True)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True)
class Candles:
    """Closed bars of one market and timeframe. `timestamp` is each bar's open time in epoch
    milliseconds (ccxt's convention), strictly increasing; prices and volumes are finite.

    The arrays are copies made read-only, so a strategy can never change what another one reads.
    """

    timestamp: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", _frozen(self.timestamp, np.int64, "timestamp"))
        size = self.timestamp.size
        for name in ("open", "high", "low", "close", "volume"):
            array = _frozen(getattr(self, name), np.float64, name)
            if array.size != size:
                raise ValueError(f"{name} has {array.size} bars, timestamp has {size}")
            if not np.isfinite(array).all():
                raise ValueError(f"{name} holds a NaN or infinite value")
            object.__setattr__(self, name, array)
        if size > 1 and not (np.diff(self.timestamp) > 0).all():
            raise ValueError("timestamps must be strictly increasing")

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[float]]) -> Candles:
        """From ccxt `fetch_ohlcv` rows: `[timestamp_ms, open, high, low, close, volume]`."""
        table = np.array(list(rows), dtype=np.float64).reshape(-1, 6)
        return cls(table[:, 0].astype(np.int64), table[:, 1], table[:, 2], table[:, 3], table[:, 4], table[:, 5])

    def __len__(self) -> int:
        return int(self.timestamp.size)

    def head(self, bars: int) -> Candles:
        """The first `bars` bars: the history as it stood when bar `bars - 1` closed."""
        return self._slice(slice(0, bars))

    def tail(self, bars: int) -> Candles:
        """The last `bars` bars: the window a live tick evaluates."""
        return self._slice(slice(max(len(self) - bars, 0), None))

    def _slice(self, part: slice) -> Candles:
        return Candles(
            self.timestamp[part], self.open[part], self.high[part], self.low[part], self.close[part], self.volume[part]
        )
