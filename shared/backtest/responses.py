"""What a client reads back about backtests and sweeps (what it sends is in `requests`).

Only the backtests API builds these: the worker, which reads stored requests, never does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.backtest.requests import MetricName

BacktestStatus = Literal["queued", "running", "succeeded", "failed"]


class BacktestAccepted(BaseModel):
    id: str
    status: BacktestStatus


class BacktestOut(BaseModel):
    id: str
    status: BacktestStatus
    reason: str | None = Field(default=None, description="Why it failed.")
    sweep_id: str | None = None
    request: dict[str, Any]
    bars: int | None = None
    metrics: dict[str, Any] | None = None
    created_at: str
    finished_at: str | None = None


class BacktestList(BaseModel):
    items: list[BacktestOut]
    next_cursor: str | None = None


class TradesPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None = None


class EquityCurve(BaseModel):
    """Bar-close equity at evenly spaced bars (the first and last always included)."""

    bars: int = Field(description="Bars in the full curve.")
    points: int
    timestamps: list[int] = Field(description="Bar open times, epoch ms.")
    equity: list[float]


class SweepAccepted(BaseModel):
    id: str
    total: int
    skipped: int = Field(description="Combinations the strategy's params model refused.")
    backtest_ids: list[str]


class RankedBacktest(BaseModel):
    id: str
    status: BacktestStatus
    params: dict[str, Any]
    value: float | None


class SweepOut(BaseModel):
    id: str
    status: Literal["running", "completed"]
    total: int
    done: int
    failed: int
    skipped: int
    strategy: str
    rank_by: MetricName
    ranking: list[RankedBacktest]
    created_at: str
