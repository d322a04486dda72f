"""What a run produces: the trades (one array per field: a year of minute bars can make thousands
of trades, and Python objects per trade would cost more than the simulation) and the equity curve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from shared.backtest.metrics import Metrics

ExitReason = Literal["signal", "stop_loss", "take_profit", "end_of_data"]
# Codes stored in `Trades.exit_code`, indexes into this tuple.
EXIT_REASONS: tuple[ExitReason, ...] = ("signal", "stop_loss", "take_profit", "end_of_data")
SIGNAL, STOP_LOSS, TAKE_PROFIT, END_OF_DATA = range(4)


@dataclass(frozen=True, slots=True, eq=False)
class Trades:
    """Closed round trips in time order; row k of every array is trade k.

    entry_bar / exit_bar: bar indexes of the entry fill (always an open) and of the exit fill (the
    open for signal and gap exits, inside the bar for stop and target fills, the close for
    end_of_data). bars_held: bars during which the position existed at some point (an exit at a
    bar's open does not count that bar). fees: entry plus exit fee. pnl: cash after the exit minus
    cash before the entry, fees included.
    """

    entry_bar: npt.NDArray[np.int64]
    exit_bar: npt.NDArray[np.int64]
    entry_price: npt.NDArray[np.float64]
    exit_price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    fees: npt.NDArray[np.float64]
    pnl: npt.NDArray[np.float64]
    exit_code: npt.NDArray[np.int8]
    bars_held: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.entry_bar.shape[0])

    def exit_reasons(self) -> list[ExitReason]:
        return [EXIT_REASONS[code] for code in self.exit_code.tolist()]

    def records(self, timestamps: npt.NDArray[np.int64] | None = None) -> list[dict[str, Any]]:
        """Plain dicts (JSON-ready floats and ints), with bar open times when `timestamps` is given."""
        columns: dict[str, list[Any]] = {
            "entry_bar": self.entry_bar.tolist(),
            "exit_bar": self.exit_bar.tolist(),
            "entry_price": self.entry_price.tolist(),
            "exit_price": self.exit_price.tolist(),
            "qty": self.qty.tolist(),
            "fees": self.fees.tolist(),
            "pnl": self.pnl.tolist(),
            "exit_reason": self.exit_reasons(),
            "bars_held": self.bars_held.tolist(),
        }
        if timestamps is not None:
            columns["entry_time_ms"] = timestamps[self.entry_bar].tolist()
            columns["exit_bar_time_ms"] = timestamps[self.exit_bar].tolist()
        names = list(columns)
        return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """equity: cash plus the position marked at each bar's close (float64, one per bar); on the last
    bar, after the end-of-data exit, so `equity[-1]` is the final cash."""

    trades: Trades
    equity: npt.NDArray[np.float64]
    metrics: Metrics

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1])
