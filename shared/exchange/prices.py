"""Where the paper exchange gets its prices: a deterministic synthetic market (the offline
default), a replay of OHLCV CSV files, or a real exchange's public ticker."""

from __future__ import annotations

import csv
import hashlib
import math
from bisect import bisect_right
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Protocol

_TWO_PI = 2 * math.pi


class PriceSource(Protocol):
    def price(self, symbol: str, timestamp_ms: int) -> Decimal: ...


def _unit(seed: str, *parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for the given parts."""
    digest = hashlib.blake2b("|".join([seed, *map(str, parts)]).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class SyntheticPrices:
    """A reproducible market: a few slow cycles plus per-minute noise around a base price.

    The same seed, symbol and time always give the same price, with no state to keep, so every
    Lambda invocation (and every test) sees the same market.
    """

    def __init__(self, base_prices: dict[str, Decimal], seed: str = "cryptoorchestrator") -> None:
        self.base_prices = base_prices
        self.seed = seed

    def price(self, symbol: str, timestamp_ms: int) -> Decimal:
        base = self.base_prices.get(symbol)
        if base is None:
            raise KeyError(symbol)
        minutes = timestamp_ms / 60_000
        phases = [_unit(self.seed, symbol, "phase", i) * _TWO_PI for i in range(3)]
        log_move = (
            0.03 * math.sin(_TWO_PI * minutes / 1440 + phases[0])
            + 0.01 * math.sin(_TWO_PI * minutes / 97 + phases[1])
            + 0.004 * math.sin(_TWO_PI * minutes / 13 + phases[2])
            + 0.003 * (_unit(self.seed, symbol, "noise", int(minutes)) - 0.5)
        )
        return base * Decimal(repr(math.exp(log_move)))


class CsvReplayPrices:
    """Replays `<dir>/<BASE>_<QUOTE>.csv` files of `timestamp_ms,open,high,low,close[,volume]`:
    the price at time t is the close of the last candle at or before t (wrapping around)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @lru_cache(maxsize=64)  # noqa: B019 - one instance per process
    def _series(self, symbol: str) -> tuple[list[int], list[Decimal]]:
        path = self.directory / (symbol.replace("/", "_") + ".csv")
        times: list[int] = []
        closes: list[Decimal] = []
        with path.open() as handle:
            for row in csv.reader(handle):
                if not row or not row[0].strip().isdigit():
                    continue
                times.append(int(row[0]))
                closes.append(Decimal(row[4]))
        if not times:
            raise KeyError(symbol)
        return times, closes

    def price(self, symbol: str, timestamp_ms: int) -> Decimal:
        times, closes = self._series(symbol)
        span = times[-1] - times[0] + (times[1] - times[0] if len(times) > 1 else 60_000)
        t = times[0] + (timestamp_ms - times[0]) % span
        return closes[max(0, bisect_right(times, t) - 1)]


class LivePrices:
    """A real exchange's public ticker through ccxt (needs the network)."""

    def __init__(self, exchange_id: str) -> None:
        from shared.exchange.ccxt_adapter import CcxtExchange

        self._exchange = CcxtExchange(exchange_id)

    def price(self, symbol: str, timestamp_ms: int) -> Decimal:
        return self._exchange.fetch_ticker(symbol).last


def price_source_from_setting(setting: str, base_prices: dict[str, Decimal]) -> PriceSource:
    """`synthetic[:seed]`, `csv:<directory>` or `live:<exchange id>`."""
    kind, _, argument = setting.partition(":")
    if kind == "synthetic":
        return SyntheticPrices(base_prices, argument or "cryptoorchestrator")
    if kind == "csv":
        return CsvReplayPrices(Path(argument))
    if kind == "live":
        return LivePrices(argument or "binance")
    raise ValueError(f"unknown paper price source {setting!r}")
