"""Performance figures, defined from the bar-close equity curve and the trades (the README quotes these).

- total_return: final equity / starting cash - 1.
- cagr: (final / starting) ** (1 / years) - 1, years = (last timestamp - first + one bar) / 365 days
  (crypto trades every day of the year); None when it exceeds a float (a big gain over minutes).
- max_drawdown: the largest fall from a running peak of bar-close equity, as a fraction (0.25 is
  25 %); the starting cash is the first peak. Intrabar lows are not marked.
- sharpe, sortino: from the n - 1 per-bar returns r_i = equity_i / equity_{i-1} - 1 (equity_0 is
  always the starting cash: nothing fills before bar 1's open), risk-free rate 0.
  Sharpe = mean(r) / std(r, ddof=1) x sqrt(B);
  Sortino = mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(B), where B = bars per year = 365 days /
  timeframe (525,600 for 1m, 8,760 for 1h, 365 for 1d). None when the denominator is 0.
- calmar: cagr / max_drawdown (None without a drawdown).
- win_rate: trades with pnl > 0 / trades. profit_factor: sum of positive pnl / -sum of negative
  pnl (None without a losing trade). expectancy: mean pnl per trade, in quote currency.
- avg_trade_bars / avg_trade_duration_s: mean bars held per trade (a bar counts if the position
  existed during it), and that times the timeframe.
- exposure: bars with a position / all bars. fees_paid: entry plus exit fees of every trade.
Undefined figures (no trades, a flat curve) are None, never NaN, so results serialize as JSON.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.backtest.candles import FloatArray
from shared.backtest.results import Trades

YEAR_MS = 365 * 86_400_000


@dataclass(frozen=True, slots=True)
class Metrics:
    starting_cash: float
    final_equity: float
    total_return: float
    cagr: float | None
    max_drawdown: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    bars_per_year: float
    trades: int
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    avg_trade_bars: float | None
    avg_trade_duration_s: float | None
    exposure: float
    fees_paid: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_metrics(
    equity: FloatArray,
    trades: Trades,
    timestamps: npt.NDArray[np.int64],
    starting_cash: float,
    bar_ms: int,
    *,
    exposure_bars: int | None = None,
) -> Metrics:
    """All figures of the module docstring for one run. `exposure_bars` replaces the sum of the
    trades' bars held when trades overlap (a grid holds several lots at once)."""
    n = equity.shape[0]
    final = float(equity[-1])
    total_return = final / starting_cash - 1.0
    years = (int(timestamps[-1]) - int(timestamps[0]) + bar_ms) / YEAR_MS
    cagr = _cagr(final / starting_cash, years)
    bars_per_year = YEAR_MS / bar_ms

    # Two scratch buffers reused in place: at millions of bars every fresh temporary costs page faults.
    scratch = np.maximum.accumulate(equity)
    np.maximum(scratch, starting_cash, out=scratch)
    np.divide(equity, scratch, out=scratch)  # equity / running peak
    max_drawdown = 1.0 - float(np.min(scratch))

    m = n - 1  # returns
    annualize = math.sqrt(bars_per_year)
    mean = std = downside = 0.0
    if m > 0:
        returns = scratch[:m]
        np.divide(equity[1:], equity[:-1], out=returns)
        returns -= 1.0
        mean = float(np.mean(returns))
        work = np.minimum(returns, 0.0)
        downside = math.sqrt(float(np.dot(work, work)) / m)
        if m > 1:
            np.subtract(returns, mean, out=work)
            std = math.sqrt(float(np.dot(work, work)) / (m - 1))

    count = len(trades)
    pnl = trades.pnl
    gross_loss = -float(np.sum(pnl[pnl < 0]))
    held = int(np.sum(trades.bars_held))
    return Metrics(
        starting_cash=starting_cash,
        final_equity=final,
        total_return=total_return,
        cagr=cagr,
        max_drawdown=max_drawdown,
        sharpe=mean / std * annualize if std > 0 else None,
        sortino=mean / downside * annualize if downside > 0 else None,
        calmar=cagr / max_drawdown if cagr is not None and max_drawdown > 0 else None,
        bars_per_year=bars_per_year,
        trades=count,
        win_rate=float(np.count_nonzero(pnl > 0)) / count if count else None,
        profit_factor=float(np.sum(pnl[pnl > 0])) / gross_loss if gross_loss > 0 else None,
        expectancy=float(np.mean(pnl)) if count else None,
        avg_trade_bars=held / count if count else None,
        avg_trade_duration_s=held / count * bar_ms / 1000 if count else None,
        exposure=(held if exposure_bars is None else exposure_bars) / n,
        fees_paid=float(np.sum(trades.fees)),
    )


def _cagr(growth: float, years: float) -> float | None:
    """Compounded in log space: a short run's exponent overflows `**`."""
    if growth <= 0:
        return -1.0
    exponent = math.log(growth) / years
    return math.expm1(exponent) if exponent < 700 else None
