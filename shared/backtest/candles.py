"""OHLCV candles as parallel numpy arrays, checked once so the engine can rely on their shape.

The engine's stop search relies on `low <= open, close <= high`: a bar that gaps through a stop
is found by its low, then classified by its open. Candles that break that are refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.errors import ValidationFailed

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TIMEFRAME_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


@dataclass(frozen=True, slots=True, eq=False)
class Candles:
    """Bars in time order: `timestamps` (int64 ms, bar open time) and float64 prices/volume."""

    timestamps: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    @classmethod
    def from_arrays(
        cls,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike | None = None,
    ) -> Candles:
        """Contiguous int64/float64 copies-or-views, checked by `validate`."""
        ts = np.ascontiguousarray(timestamps, dtype=np.int64)
        prices = [np.ascontiguousarray(a, dtype=np.float64) for a in (open, high, low, close)]
        vol = np.zeros(ts.shape[0]) if volume is None else np.ascontiguousarray(volume, dtype=np.float64)
        candles = cls(ts, prices[0], prices[1], prices[2], prices[3], vol)
        candles.validate()
        return candles

    def validate(self) -> None:
        """Refuse what would make a simulation meaningless: ragged arrays, unordered or duplicate
        timestamps, non-positive or non-finite prices, and highs/lows that do not contain the
        open and close. Costs a few ms for a year of 1-minute bars."""
        n = self.timestamps.shape[0]
        arrays = (self.open, self.high, self.low, self.close, self.volume)
        if self.timestamps.ndim != 1 or any(a.ndim != 1 or a.shape[0] != n for a in arrays):
            raise ValidationFailed("candle arrays must be one-dimensional and of equal length")
        if n == 0:
            raise ValidationFailed("no candles")
        if n > 1 and not bool(np.all(self.timestamps[1:] > self.timestamps[:-1])):
            first = int(np.argmin(self.timestamps[1:] > self.timestamps[:-1])) + 1
            raise ValidationFailed(f"timestamps must increase strictly (bar {first})", details={"bar": first})
        for name in ("open", "high", "low", "close"):
            values: FloatArray = getattr(self, name)
            # `x > 0` is False for NaN; the upper bound refuses +inf.
            if not bool(np.all((values > 0) & (values < np.inf))):
                bar = int(np.argmin((values > 0) & (values < np.inf)))
                raise ValidationFailed(f"{name} must be positive and finite (bar {bar})", details={"bar": bar})
        body_high = np.maximum(self.open, self.close)
        if not bool(np.all(self.high >= body_high)):
            bar = int(np.argmin(self.high >= body_high))
            raise ValidationFailed(f"high below max(open, close) (bar {bar})", details={"bar": bar})
        body_low = np.minimum(self.open, self.close)
        if not bool(np.all(self.low <= body_low)):
            bar = int(np.argmin(self.low <= body_low))
            raise ValidationFailed(f"low above min(open, close) (bar {bar})", details={"bar": bar})

    def bar_ms(self) -> int:
        """The timeframe, inferred as the smallest spacing between bars (gaps are longer, never
        shorter). A single bar has no spacing: callers pass the timeframe explicitly then."""
        if len(self) < 2:
            raise ValidationFailed("the timeframe cannot be inferred from one candle")
        return int(np.min(np.diff(self.timestamps)))
