"""What a client sends to start a backtest or a sweep (what it reads back is in `responses`).

Imported by the API function at cold start: no numpy here (the engine modules import it). Every
check that needs no I/O happens here, so a bad request is refused before anything is written or
queued: the strategy and its parameters (by the strategy's own params model), the date range,
the bar count against the documented cap, NaN and infinities anywhere. The backtest worker
imports this too, to read a stored request back: it builds none of the API's response models.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.inputs import RequestModel, Timestamp
from shared.strategies.indicator_params import (
    BollingerReversionParams,
    EmaCrossParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from shared.strategies.quantities import Timeframe
from shared.strategies.stepped_params import DcaParams, GridParams

# Bar length of each timeframe; equal to shared.backtest.candles.TIMEFRAME_MS (a test keeps them
# equal), repeated here so the API never imports numpy.
TIMEFRAME_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}

# Strategies a backtest can run: the indicator strategies (candles in, wanted position out).
SIGNAL_STRATEGY_PARAMS: dict[str, type[BaseModel]] = {
    "sma_cross": SmaCrossParams,
    "ema_cross": EmaCrossParams,
    "rsi_reversion": RsiReversionParams,
    "macd_cross": MacdCrossParams,
    "bollinger_reversion": BollingerReversionParams,
}
# Stateful strategies (state and fills in, wanted orders out), replayed by shared.backtest.stepped.
# Each field named here is the strategy's own timeframe, set to the backtest's (grid has none).
STEPPED_STRATEGY_PARAMS: dict[str, type[BaseModel]] = {"dca": DcaParams, "grid": GridParams}
_TIMEFRAME_FIELD: dict[str, str | None] = {"dca": "interval", "grid": None}
BACKTEST_STRATEGY_PARAMS: dict[str, type[BaseModel]] = {**SIGNAL_STRATEGY_PARAMS, **STEPPED_STRATEGY_PARAMS}
# Known strategies a backtest refuses, and why (the 422 says this).
UNSUPPORTED_STRATEGIES: dict[str, str] = {
    "signal": "the signal strategy trades on external alerts: there is nothing to replay",
}
MetricName = Literal[
    "total_return",
    "cagr",
    "max_drawdown",
    "sharpe",
    "sortino",
    "calmar",
    "win_rate",
    "profit_factor",
    "expectancy",
    "trades",
    "exposure",
    "fees_paid",
    "final_equity",
]


class _Strict(RequestModel):
    model_config = ConfigDict(frozen=True)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def validate_params(strategy_type: str, params: dict[str, Any], timeframe: str) -> BaseModel:
    """The strategy's params model applied to `params`; the strategy's timeframe is the backtest's.
    Raises ValueError (a 422 through pydantic) for unknown or unsupported types and bad params."""
    if strategy_type in UNSUPPORTED_STRATEGIES:
        raise ValueError(f"strategy {strategy_type!r}: {UNSUPPORTED_STRATEGIES[strategy_type]}")
    model = BACKTEST_STRATEGY_PARAMS.get(strategy_type)
    if model is None:
        raise ValueError(
            f"unknown strategy {strategy_type!r}; backtests run: {', '.join(sorted(BACKTEST_STRATEGY_PARAMS))}"
        )
    field = _TIMEFRAME_FIELD.get(strategy_type, "timeframe")
    if field is not None and params.get(field, timeframe) != timeframe:
        raise ValueError(f"params.{field} must equal the backtest's timeframe (or be left out)")
    try:
        return model.model_validate(params if field is None else {**params, field: timeframe})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(f"params for {strategy_type}: {problems}") from None


class StrategySpec(_Strict):
    type: str = Field(max_length=64, description="A built-in strategy, e.g. `sma_cross` or `grid` (not `signal`).")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the strategy's params model.")


class SyntheticSource(_Strict):
    """Deterministic synthetic candles (offline): the same request always sees the same bars."""

    type: Literal["synthetic"] = "synthetic"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class DatasetSource(_Strict):
    """A dataset this tenant uploaded (POST /market-data)."""

    type: Literal["dataset"]
    dataset_id: str = Field(pattern=r"^ds_[0-9a-z]{26}$")


class ExchangeSource(_Strict):
    """The exchange's public candle history, fetched by the worker through ccxt (needs the network)."""

    type: Literal["exchange"]
    exchange: str = Field(max_length=32, description="A ccxt exchange id we support, e.g. `binance`.")


DataSource = Annotated[SyntheticSource | DatasetSource | ExchangeSource, Field(discriminator="type")]


class AllIn(_Strict):
    mode: Literal["all_in"] = "all_in"


class BacktestFixedNotional(_Strict):
    mode: Literal["fixed_notional"]
    notional: float = Field(gt=0, le=1e15)


class PercentOfEquity(_Strict):
    mode: Literal["percent_of_equity"]
    percent: float = Field(gt=0, le=100)


SizingSpec = Annotated[AllIn | BacktestFixedNotional | PercentOfEquity, Field(discriminator="mode")]


class BacktestSettings(_Strict):
    """Everything of a backtest but the strategy: the market, the range, the data and the costs."""

    symbol: str = Field(min_length=3, max_length=32, pattern=r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}$")
    timeframe: Timeframe
    start: Timestamp = Field(description="First bar's open time at or after this (ISO-8601 with a zone).")
    end: Timestamp = Field(description="Bars opening before this.")
    data_source: DataSource = Field(default_factory=SyntheticSource)
    starting_cash: float = Field(default=10_000.0, gt=0, le=1e15)
    fee_rate: float = Field(default=0.001, ge=0, lt=0.5, description="Fraction of traded notional per side.")
    slippage_rate: float = Field(default=0.0, ge=0, lt=0.5, description="Fraction a market fill moves against you.")
    sizing: SizingSpec = Field(default_factory=AllIn)
    stop_loss_pct: float | None = Field(default=None, gt=0, lt=100)
    take_profit_pct: float | None = Field(default=None, gt=0, le=1e6)

    @model_validator(mode="after")
    def _range_and_bars(self) -> Self:
        from shared.config import get_settings

        if self.end <= self.start:
            raise ValueError("end must be after start")
        bars = self.bar_count()
        cap = get_settings().backtest_max_bars
        if bars > cap:
            raise ValueError(
                f"the range holds {bars} {self.timeframe} bars; at most {cap} bars per backtest "
                f"(two years of 1-minute bars): shorten the range or use a longer timeframe"
            )
        return self

    def bar_count(self) -> int:
        """Bars the range can hold on the timeframe's grid (an upper bound for a dataset)."""
        return math.ceil((epoch_ms(self.end) - epoch_ms(self.start)) / TIMEFRAME_MS[self.timeframe])


class BacktestCreate(BacktestSettings):
    strategy: StrategySpec

    @model_validator(mode="after")
    def _strategy(self) -> Self:
        validate_params(self.strategy.type, self.strategy.params, self.timeframe)
        _stepped_settings(self)
        return self


def _stepped_settings(request: BacktestSettings) -> None:
    """dca and grid size their own orders and set their own exits: the settings that would
    override them are refused rather than ignored."""
    strategy = getattr(request, "strategy", None)
    if strategy is None or strategy.type not in STEPPED_STRATEGY_PARAMS:
        return
    from shared.config import get_settings

    exits = (request.stop_loss_pct, request.take_profit_pct)
    if not isinstance(request.sizing, AllIn) or exits != (None, None):
        raise ValueError(
            f"{strategy.type} sizes its own orders and sets its own exits (in its params): "
            "leave sizing, stop_loss_pct and take_profit_pct out"
        )
    bars, cap = request.bar_count(), get_settings().backtest_max_stepped_bars
    if bars > cap:
        raise ValueError(
            f"the range holds {bars} {request.timeframe} bars; {strategy.type} replays its live step on every "
            f"bar, so at most {cap} bars: shorten the range or use a longer timeframe"
        )


Number = int | float


class ParamRange(_Strict):
    """`from`, `from + step`, ... up to and including `to` (within 1e-9 of a step)."""

    start: Number = Field(alias="from")
    stop: Number = Field(alias="to")
    step: Number = Field(gt=0)

    def count(self) -> int:
        if self.stop < self.start:
            raise ValueError("a range's `to` must not be below its `from`")
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1

    def values(self) -> list[Number]:
        integral = all(isinstance(v, int) for v in (self.start, self.stop, self.step))
        if integral:
            return list(range(int(self.start), int(self.stop) + 1, int(self.step)))
        return [round(self.start + i * self.step, 10) for i in range(self.count())]


GridAxis = ParamRange | Annotated[list[Number | str | bool], Field(min_length=1, max_length=1000)]


class SweepCreate(BacktestSettings):
    """One backtest per combination of `grid` values, each laid over `strategy.params`.

    Combinations the strategy's params model refuses (e.g. fast >= slow) are skipped and counted;
    a sweep whose every combination is refused is a 422. The cap applies to the full grid,
    before anything is skipped.
    """

    strategy: StrategySpec
    grid: dict[str, GridAxis] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _grid(self) -> Self:
        from shared.config import get_settings

        if self.strategy.type in UNSUPPORTED_STRATEGIES or self.strategy.type not in BACKTEST_STRATEGY_PARAMS:
            validate_params(self.strategy.type, self.strategy.params, self.timeframe)  # raises the clear message
        _stepped_settings(self)
        fields = BACKTEST_STRATEGY_PARAMS[self.strategy.type].model_fields
        untunable = {"timeframe", "interval", "sizing"} | (
            set() if self.strategy.type in STEPPED_STRATEGY_PARAMS else {"order_notional"}
        )
        for name in self.grid:
            if name not in fields or name in untunable:
                raise ValueError(f"grid parameter {name!r} is not a tunable parameter of {self.strategy.type}")
        total = 1
        for axis in self.grid.values():
            total *= axis.count() if isinstance(axis, ParamRange) else len(axis)
        cap = get_settings().backtest_max_sweep_combinations
        if total > cap:
            raise ValueError(f"the grid has {total} combinations; at most {cap} per sweep")
        return self

    def combinations(self) -> tuple[list[dict[str, Any]], int]:
        """The valid parameter sets (full params, validated) and how many were skipped."""
        names = list(self.grid)
        axes = [axis.values() if isinstance(axis, ParamRange) else list(axis) for axis in self.grid.values()]
        valid: list[dict[str, Any]] = []
        skipped = 0
        combos: list[list[Any]] = [[]]
        for axis in axes:
            combos = [[*combo, value] for combo in combos for value in axis]
        for combo in combos:
            params = {**self.strategy.params, **dict(zip(names, combo, strict=True))}
            try:
                validate_params(self.strategy.type, params, self.timeframe)
            except ValueError:
                skipped += 1
                continue
            valid.append(params)
        return valid, skipped
