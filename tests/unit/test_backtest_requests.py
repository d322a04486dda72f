"""Backtest and sweep requests: everything refused before any I/O, and the grid's expansion."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.backtest.candles import TIMEFRAME_MS as ENGINE_TIMEFRAMES
from shared.backtest.requests import TIMEFRAME_MS, BacktestCreate, ParamRange, SweepCreate
from shared.config import get_settings


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "strategy": {"type": "sma_cross", "params": {"fast": 5, "slow": 20}},
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-02-01T00:00:00Z",
    }
    body.update(overrides)
    return body


def test_the_api_timeframes_and_synthetic_epoch_are_the_engines() -> None:
    from shared.backtest.service import SYNTHETIC_EPOCH_MS
    from shared.backtest.synthetic import EPOCH_MS

    assert TIMEFRAME_MS == ENGINE_TIMEFRAMES
    assert SYNTHETIC_EPOCH_MS == EPOCH_MS


def test_defaults_are_synthetic_all_in() -> None:
    request = BacktestCreate.model_validate(_body())
    assert request.data_source.type == "synthetic"
    assert request.sizing.mode == "all_in"
    assert request.bar_count() == 31 * 24


def test_the_bar_cap_is_exact() -> None:
    cap = get_settings().backtest_max_bars
    start = 1_704_067_200  # 2024-01-01, seconds
    at_cap = _body(timeframe="1m", start=f"{start}", end=f"{start + cap * 60}")
    assert BacktestCreate.model_validate(at_cap).bar_count() == cap
    with pytest.raises(ValidationError, match=f"holds {cap + 1} 1m bars; at most {cap} bars"):
        BacktestCreate.model_validate(_body(timeframe="1m", start=f"{start}", end=f"{start + cap * 60 + 60}"))


def test_the_strategy_timeframe_is_the_backtests() -> None:
    params = {"fast": 5, "slow": 20, "timeframe": "1d"}
    with pytest.raises(ValidationError, match=r"params\.timeframe must equal"):
        BacktestCreate.model_validate(_body(strategy={"type": "sma_cross", "params": params}))
    same = {"fast": 5, "slow": 20, "timeframe": "1h"}
    assert BacktestCreate.model_validate(_body(strategy={"type": "sma_cross", "params": same}))


@pytest.mark.parametrize(
    ("axis", "values"),
    [
        ({"from": 5, "to": 50, "step": 5}, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
        ({"from": 5, "to": 12, "step": 5}, [5, 10]),
        ({"from": 1.5, "to": 2.5, "step": 0.5}, [1.5, 2.0, 2.5]),
        ({"from": 0.1, "to": 0.3, "step": 0.1}, [0.1, 0.2, 0.3]),
    ],
)
def test_ranges_include_their_end(axis: dict[str, float], values: list[float]) -> None:
    parsed = ParamRange.model_validate(axis)
    assert parsed.values() == values
    assert parsed.count() == len(values)


def _sweep(grid: dict[str, Any], **params: Any) -> SweepCreate:
    body = _body(grid=grid)
    body["strategy"] = {"type": "sma_cross", "params": params}
    return SweepCreate.model_validate(body)


def test_invalid_combinations_are_skipped_and_counted() -> None:
    sweep = _sweep({"fast": {"from": 5, "to": 50, "step": 5}, "slow": {"from": 20, "to": 200, "step": 10}})
    valid, skipped = sweep.combinations()
    assert len(valid) + skipped == 10 * 19
    assert all(p["fast"] < p["slow"] for p in valid)
    assert skipped == sum(1 for f in range(5, 51, 5) for s in range(20, 201, 10) if f >= s)
    assert valid[0] == {"fast": 5, "slow": 20}


def test_grid_values_lie_over_the_base_params() -> None:
    body = _body(grid={"period": [10, 20]})
    body["strategy"] = {"type": "bollinger_reversion", "params": {"std_dev": 1.5}}
    valid, _ = SweepCreate.model_validate(body).combinations()
    assert valid == [{"std_dev": 1.5, "period": 10}, {"std_dev": 1.5, "period": 20}]


@pytest.mark.parametrize(
    ("grid", "says"),
    [
        ({"fast": {"from": 1, "to": 100_000, "step": 1}}, "100000 combinations; at most 1000 per sweep"),
        ({"fast": {"from": 50, "to": 5, "step": 5}}, "must not be below its `from`"),
        ({"fast": {"from": 5, "to": 50, "step": 0}}, "greater than 0"),
        ({"timeframe": ["1h"]}, "not a tunable parameter"),
        ({"warp": [1]}, "not a tunable parameter"),
    ],
)
def test_bad_grids_are_refused(grid: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        _sweep(grid, slow=200)


def test_an_unsupported_strategy_is_refused_in_a_sweep_too() -> None:
    body = _body(grid={"max_signal_age_seconds": [60, 120]})
    body["strategy"] = {"type": "signal", "params": {}}
    with pytest.raises(ValidationError, match="nothing to replay"):
        SweepCreate.model_validate(body)


GRID_PARAMS = {"lower_price": "90", "upper_price": "110", "levels": 5, "order_amount": "0.1"}


def test_stepped_strategies_are_backtested_with_their_own_timeframe_field() -> None:
    dca = BacktestCreate.model_validate(_body(strategy={"type": "dca", "params": {"order_notional": "10"}}))
    assert dca.strategy.type == "dca"
    with pytest.raises(ValidationError, match=r"params\.interval must equal"):
        BacktestCreate.model_validate(
            _body(strategy={"type": "dca", "params": {"order_notional": "10", "interval": "1d"}})
        )
    assert BacktestCreate.model_validate(_body(strategy={"type": "grid", "params": GRID_PARAMS}))
    with pytest.raises(ValidationError, match="lower_price must be below upper_price"):
        BacktestCreate.model_validate(_body(strategy={"type": "grid", "params": {**GRID_PARAMS, "lower_price": "120"}}))


@pytest.mark.parametrize(
    "overrides",
    [{"sizing": {"mode": "fixed_notional", "notional": 10}}, {"stop_loss_pct": 2}, {"take_profit_pct": 4}],
)
def test_stepped_strategies_refuse_sizing_and_exits_of_their_own(overrides: dict[str, Any]) -> None:
    body = _body(strategy={"type": "grid", "params": GRID_PARAMS}, **overrides)
    with pytest.raises(ValidationError, match="sizes its own orders"):
        BacktestCreate.model_validate(body)
    body["grid"] = {"levels": [3, 4]}
    with pytest.raises(ValidationError, match="sizes its own orders"):
        SweepCreate.model_validate(body)


def test_a_grid_sweep_tunes_the_grid_but_not_its_timeframe() -> None:
    body = _body(strategy={"type": "grid", "params": GRID_PARAMS}, grid={"levels": [3, 4, 5]})
    valid, skipped = SweepCreate.model_validate(body).combinations()
    assert [p["levels"] for p in valid] == [3, 4, 5] and skipped == 0
    body = _body(strategy={"type": "dca", "params": {"order_notional": "10"}}, grid={"interval": ["1h"]})
    with pytest.raises(ValidationError, match="not a tunable parameter"):
        SweepCreate.model_validate(body)


def test_stepped_strategies_have_their_own_bar_cap() -> None:
    cap = get_settings().backtest_max_stepped_bars
    start = 1_704_067_200  # 2024-01-01, seconds
    grid = {"type": "grid", "params": GRID_PARAMS}
    at_cap = _body(strategy=grid, timeframe="1m", start=f"{start}", end=f"{start + cap * 60}")
    assert BacktestCreate.model_validate(at_cap).bar_count() == cap
    over = _body(strategy=grid, timeframe="1m", start=f"{start}", end=f"{start + cap * 60 + 60}")
    with pytest.raises(ValidationError, match=f"holds {cap + 1} 1m bars; grid replays its live step .* at most {cap}"):
        BacktestCreate.model_validate(over)
    assert BacktestCreate.model_validate({**over, "strategy": {"type": "sma_cross", "params": {"fast": 5, "slow": 20}}})
