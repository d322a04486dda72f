"""Strategy parameter and bot request validation (pydantic, no I/O)."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.bots.limits import RiskLimits
from shared.bots.schemas import BotCreate, BotUpdate
from shared.strategies.indicator_params import (
    BollingerReversionParams,
    EmaCrossParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from shared.strategies.params import (
    STRATEGY_TYPES,
    BollingerReversionStrategy,
    DcaStrategy,
    EmaCrossStrategy,
    GridStrategy,
    MacdCrossStrategy,
    RsiReversionStrategy,
    SignalStrategy,
    SmaCrossStrategy,
    StrategyConfig,
)
from shared.strategies.signal_params import SignalParams
from shared.strategies.sizing import FixedNotional, PercentOfCapital
from shared.strategies.stepped_params import DcaParams, GridParams

STRATEGY: TypeAdapter[Any] = TypeAdapter(StrategyConfig)

VALID_STRATEGIES: dict[str, dict[str, Any]] = {
    "sma_cross": {"type": "sma_cross", "params": {"fast": 20, "slow": 50, "timeframe": "1m"}},
    "dca": {"type": "dca", "params": {"interval": "1d", "order_notional": "25.5", "max_orders": 10}},
    "grid": {
        "type": "grid",
        "params": {"lower_price": "20000", "upper_price": "30000", "levels": 10, "order_amount": "0.001"},
    },
    "signal": {
        "type": "signal",
        "params": {"order_notional": 100, "allowed_actions": ["buy", "close"], "max_signal_age_seconds": 60},
    },
    "ema_cross": {
        "type": "ema_cross",
        "params": {"fast": 12, "slow": 26, "timeframe": "1h", "sizing": {"mode": "fixed_notional", "notional": "250"}},
    },
    "rsi_reversion": {"type": "rsi_reversion", "params": {"period": 14, "oversold": 25, "overbought": 75}},
    "macd_cross": {"type": "macd_cross", "params": {"fast": 12, "slow": 26, "signal": 9, "timeframe": "4h"}},
    "bollinger_reversion": {
        "type": "bollinger_reversion",
        "params": {
            "period": 20,
            "std_dev": 2.5,
            "sizing": {"mode": "percent_of_capital", "percent": 10, "capital": "5000"},
        },
    },
}
EXPECTED_CLASS: dict[str, tuple[type[Any], type[Any]]] = {
    "sma_cross": (SmaCrossStrategy, SmaCrossParams),
    "dca": (DcaStrategy, DcaParams),
    "grid": (GridStrategy, GridParams),
    "signal": (SignalStrategy, SignalParams),
    "ema_cross": (EmaCrossStrategy, EmaCrossParams),
    "rsi_reversion": (RsiReversionStrategy, RsiReversionParams),
    "macd_cross": (MacdCrossStrategy, MacdCrossParams),
    "bollinger_reversion": (BollingerReversionStrategy, BollingerReversionParams),
}


def valid_bot(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "btc trend",
        "exchange_account_id": "paper",
        "symbol": "BTC/USDT",
        "strategy": copy.deepcopy(VALID_STRATEGIES["sma_cross"]),
        "risk": {"max_position_notional": 1000, "max_daily_loss": 100, "max_open_orders": 2},
    }
    body.update(overrides)
    return body


# ------------------------------------------------------------------ valid bodies


def test_strategy_types_constant_matches_valid_examples() -> None:
    assert set(STRATEGY_TYPES) == set(VALID_STRATEGIES)


@pytest.mark.parametrize("kind", list(VALID_STRATEGIES))
def test_valid_strategy_selects_its_model(kind: str) -> None:
    strategy = STRATEGY.validate_python(VALID_STRATEGIES[kind])
    outer, inner = EXPECTED_CLASS[kind]
    assert type(strategy) is outer
    assert type(strategy.params) is inner
    assert strategy.type == kind


@pytest.mark.parametrize("kind", list(VALID_STRATEGIES))
def test_valid_bot_for_each_strategy(kind: str) -> None:
    bot = BotCreate.model_validate(valid_bot(strategy=VALID_STRATEGIES[kind]))
    assert bot.strategy.type == kind
    assert bot.symbol == "BTC/USDT"
    # And the same body as JSON text.
    again = BotCreate.model_validate_json(json.dumps(valid_bot(strategy=VALID_STRATEGIES[kind])))
    assert again == bot


def test_valid_values_are_kept() -> None:
    grid = STRATEGY.validate_python(VALID_STRATEGIES["grid"])
    assert isinstance(grid, GridStrategy)
    assert grid.params.lower_price == Decimal("20000")
    assert grid.params.upper_price == Decimal("30000")
    assert grid.params.order_amount == Decimal("0.001")
    signal = STRATEGY.validate_python(VALID_STRATEGIES["signal"])
    assert isinstance(signal, SignalStrategy)
    assert signal.params.allowed_actions == ["buy", "close"]
    assert signal.params.order_notional == Decimal(100)


def test_defaults() -> None:
    sma = SmaCrossParams(fast=2, slow=3)
    assert sma.timeframe == "1m"
    assert sma.order_notional is None
    assert DcaParams(order_notional=Decimal("1")).interval == "1d"
    signal = SignalParams()
    assert signal.allowed_actions == ["buy", "sell", "close"]
    assert signal.max_signal_age_seconds == 300
    # The default list is not shared between instances.
    assert SignalParams().allowed_actions is not signal.allowed_actions


def test_bot_create_defaults_to_paper_account() -> None:
    body = valid_bot()
    del body["exchange_account_id"]
    assert BotCreate.model_validate(body).exchange_account_id == "paper"


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/BTC", "BTC/USDT:USDT", "1INCH/USDT"])
def test_good_symbols(symbol: str) -> None:
    assert BotCreate.model_validate(valid_bot(symbol=symbol)).symbol == symbol


@pytest.mark.parametrize("account", ["paper", "acct_" + "0123456789abcdefghjkmnpqrs"])
def test_good_exchange_accounts(account: str) -> None:
    assert BotCreate.model_validate(valid_bot(exchange_account_id=account)).exchange_account_id == account


def test_name_is_stripped() -> None:
    assert BotCreate.model_validate(valid_bot(name="  my bot  ")).name == "my bot"


# ------------------------------------------------------------------ strategy rejections


@pytest.mark.parametrize(
    "strategy",
    [
        {"type": "martingale", "params": {}},
        {"type": "SMA_CROSS", "params": {"fast": 2, "slow": 3}},
        {"params": {"fast": 2, "slow": 3}},
        {"type": "sma_cross"},
        {"type": "sma_cross", "params": {"fast": 2, "slow": 3}, "extra": 1},
        # params of another strategy type
        {"type": "dca", "params": {"fast": 20, "slow": 50}},
    ],
    ids=["unknown-type", "wrong-case-type", "missing-type", "missing-params", "extra-key", "mismatched-params"],
)
def test_bad_strategy_rejected(strategy: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        STRATEGY.validate_python(strategy)
    with pytest.raises(ValidationError):
        BotCreate.model_validate(valid_bot(strategy=strategy))


@pytest.mark.parametrize(("fast", "slow"), [(50, 50), (51, 50), (100, 3)])
def test_sma_fast_must_be_below_slow(fast: int, slow: int) -> None:
    with pytest.raises(ValidationError, match="fast must be smaller than slow"):
        SmaCrossParams(fast=fast, slow=slow)


@pytest.mark.parametrize(
    "params",
    [
        {"fast": 1, "slow": 50},
        {"fast": 20, "slow": 1001},
        {"fast": 20, "slow": 50, "timeframe": "2m"},
        {"fast": 2.5, "slow": 50},
        {"fast": "twenty", "slow": 50},
    ],
)
def test_sma_bounds(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SmaCrossParams.model_validate(params)


@pytest.mark.parametrize(("lower", "upper"), [("100", "100"), ("101", "100"), ("30000", "20000")])
def test_grid_lower_must_be_below_upper(lower: str, upper: str) -> None:
    with pytest.raises(ValidationError, match="lower_price must be below upper_price"):
        GridParams.model_validate({"lower_price": lower, "upper_price": upper, "levels": 5, "order_amount": "1"})


@pytest.mark.parametrize("levels", [1, 201, 0, -3])
def test_grid_levels_bounds(levels: int) -> None:
    with pytest.raises(ValidationError):
        GridParams(lower_price=Decimal("1"), upper_price=Decimal("2"), levels=levels, order_amount=Decimal("1"))


@pytest.mark.parametrize("levels", [2, 200])
def test_grid_levels_edges_accepted(levels: int) -> None:
    grid = GridParams(lower_price=Decimal("1"), upper_price=Decimal("2"), levels=levels, order_amount=Decimal("1"))
    assert grid.levels == levels


@pytest.mark.parametrize(
    "params",
    [
        {"allowed_actions": []},
        {"allowed_actions": ["buy", "hodl"]},
        {"allowed_actions": ["buy"] * 4},
        {"max_signal_age_seconds": 0},
        {"max_signal_age_seconds": 3601},
    ],
)
def test_signal_bounds(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SignalParams.model_validate(params)


def test_dca_requires_order_notional() -> None:
    with pytest.raises(ValidationError):
        DcaParams.model_validate({"interval": "1d"})


def test_params_are_frozen() -> None:
    params = SmaCrossParams(fast=2, slow=3)
    with pytest.raises(ValidationError):
        params.fast = 10  # type: ignore[misc]
    assert params.fast == 2


# ------------------------------------------------------------------ numbers


NON_FINITE_FLOATS: list[Any] = [math.nan, math.inf, -math.inf]
NON_FINITE_JSON = ["NaN", "Infinity", "-Infinity"]
NON_FINITE_STRINGS = ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN"]


@pytest.mark.parametrize("value", NON_FINITE_FLOATS + NON_FINITE_STRINGS, ids=repr)
def test_non_finite_amount_rejected_python(value: Any) -> None:
    with pytest.raises(ValidationError):
        DcaParams(order_notional=value)
    with pytest.raises(ValidationError):
        GridParams(lower_price=value, upper_price=Decimal("10"), levels=2, order_amount=Decimal("1"))
    with pytest.raises(ValidationError):
        GridParams(lower_price=Decimal("1"), upper_price=value, levels=2, order_amount=Decimal("1"))
    with pytest.raises(ValidationError):
        RiskLimits(max_position_notional=value, max_daily_loss=Decimal("1"), max_open_orders=1)


@pytest.mark.parametrize("literal", NON_FINITE_JSON)
def test_non_finite_amount_rejected_json(literal: str) -> None:
    with pytest.raises(ValidationError):
        DcaParams.model_validate_json(f'{{"order_notional": {literal}}}')
    with pytest.raises(ValidationError):
        RiskLimits.model_validate_json(
            f'{{"max_position_notional": {literal}, "max_daily_loss": 1, "max_open_orders": 1}}'
        )
    text = json.dumps(valid_bot()).replace('"max_daily_loss": 100', f'"max_daily_loss": {literal}')
    assert literal in text
    with pytest.raises(ValidationError):
        BotCreate.model_validate_json(text)


@pytest.mark.parametrize("literal", NON_FINITE_JSON)
def test_non_finite_int_fields_rejected_json(literal: str) -> None:
    with pytest.raises(ValidationError):
        SmaCrossParams.model_validate_json(f'{{"fast": {literal}, "slow": 50}}')
    with pytest.raises(ValidationError):
        GridParams.model_validate_json(
            f'{{"lower_price": 1, "upper_price": 2, "levels": {literal}, "order_amount": 1}}'
        )


@pytest.mark.parametrize("value", [0, "0", 0.0, "-0", -1, "-0.00000001", -100.5], ids=repr)
def test_zero_and_negative_amounts_rejected(value: Any) -> None:
    with pytest.raises(ValidationError):
        DcaParams(order_notional=value)
    with pytest.raises(ValidationError):
        SmaCrossParams(fast=2, slow=3, order_notional=value)
    with pytest.raises(ValidationError):
        SignalParams(order_notional=value)
    with pytest.raises(ValidationError):
        RiskLimits(max_position_notional=Decimal("1"), max_daily_loss=value, max_open_orders=1)


@pytest.mark.parametrize("value", [1e30, 10**40, "1e30", "100000000000000000000", 1e21], ids=repr)
def test_huge_amounts_rejected(value: Any) -> None:
    with pytest.raises(ValidationError):
        DcaParams(order_notional=value)
    with pytest.raises(ValidationError):
        RiskLimits(max_position_notional=value, max_daily_loss=Decimal("1"), max_open_orders=1)


@pytest.mark.parametrize("text", ["1e30", "1000000000000000000000000000000000000000"])
def test_huge_amounts_rejected_json(text: str) -> None:
    with pytest.raises(ValidationError):
        DcaParams.model_validate_json(f'{{"order_notional": {text}}}')


@pytest.mark.parametrize("value", [10**40, 2**63])
def test_huge_ints_rejected(value: int) -> None:
    with pytest.raises(ValidationError):
        SmaCrossParams(fast=2, slow=value)
    with pytest.raises(ValidationError):
        RiskLimits(max_position_notional=Decimal("1"), max_daily_loss=Decimal("1"), max_open_orders=value)


@pytest.mark.parametrize("value", ["0.000000001", "1.123456789", 0.123456789], ids=repr)
def test_more_than_eight_decimals_rejected(value: Any) -> None:
    with pytest.raises(ValidationError):
        DcaParams(order_notional=value)
    with pytest.raises(ValidationError):
        GridParams(lower_price=Decimal("1"), upper_price=Decimal("2"), levels=2, order_amount=value)


def test_largest_allowed_amount_accepted() -> None:
    # 20 significant digits, 8 of them decimals.
    value = "999999999999.99999999"
    assert DcaParams.model_validate({"order_notional": value}).order_notional == Decimal(value)
    with pytest.raises(ValidationError):
        DcaParams(order_notional=Decimal("9999999999999.99999999"))


@pytest.mark.parametrize("text", ["0.00000001", "123456789012.12345678", "1000", "0.1", "42.5"])
def test_decimal_round_trips_exactly(text: str) -> None:
    params = DcaParams.model_validate_json(f'{{"order_notional": "{text}"}}')
    assert params.order_notional == Decimal(text)
    # Serialized as a JSON string (never a float), and parsing it back gives the same value.
    dumped = json.loads(params.model_dump_json())
    assert isinstance(dumped["order_notional"], str)
    assert Decimal(dumped["order_notional"]) == Decimal(text)
    assert DcaParams.model_validate_json(params.model_dump_json()) == params


def test_number_and_string_inputs_agree() -> None:
    from_number = DcaParams.model_validate_json('{"order_notional": 0.1}')
    from_string = DcaParams.model_validate_json('{"order_notional": "0.1"}')
    assert from_number.order_notional == from_string.order_notional == Decimal("0.1")


def test_small_decimal_serialized_as_plain_decimal_string() -> None:
    params = DcaParams.model_validate_json('{"order_notional": "0.00000001"}')
    assert json.loads(params.model_dump_json())["order_notional"] == "0.00000001"


# ------------------------------------------------------------------ unknown fields


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (SmaCrossParams, {"fast": 2, "slow": 3, "leverage": 100}),
        (DcaParams, {"order_notional": "1", "foo": None}),
        (GridParams, {"lower_price": 1, "upper_price": 2, "levels": 2, "order_amount": 1, "x": 1}),
        (SignalParams, {"secret": "x"}),
        (RiskLimits, {"max_position_notional": 1, "max_daily_loss": 1, "max_open_orders": 1, "y": 2}),
    ],
    ids=["sma", "dca", "grid", "signal", "risk"],
)
def test_unknown_fields_forbidden(model: type[Any], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="xtra"):
        model.model_validate(body)


@pytest.mark.parametrize("field", ["status", "tenant_id", "id", "version", "created_at", "owner"])
def test_bot_create_rejects_extra_fields(field: str) -> None:
    with pytest.raises(ValidationError):
        BotCreate.model_validate(valid_bot(**{field: "running"}))


@pytest.mark.parametrize("field", ["name", "symbol", "strategy", "risk"])
def test_bot_create_requires_fields(field: str) -> None:
    body = valid_bot()
    del body[field]
    with pytest.raises(ValidationError):
        BotCreate.model_validate(body)


# ------------------------------------------------------------------ symbols, accounts, names


@pytest.mark.parametrize(
    "symbol",
    [
        "btc/usdt",
        "BTCUSDT",
        "BTC/USDT/X",
        "BTC-USDT",
        "BTC/",
        "/USDT",
        "",
        "BTC/USDT:",
        "BTC /USDT",
        "BTC/USDT\n",
        "ABCDEFGHIJKLM/USDT",
    ],
    ids=repr,
)
def test_bad_symbols_rejected(symbol: str) -> None:
    with pytest.raises(ValidationError):
        BotCreate.model_validate(valid_bot(symbol=symbol))
    with pytest.raises(ValidationError):
        BotUpdate(symbol=symbol)


@pytest.mark.parametrize(
    "account",
    [
        "",
        "Paper",
        "live",
        "acct_",
        "acct_" + "A" * 26,
        "acct_" + "a" * 25,
        "acct_" + "a" * 27,
        "paper\n",
        "acct_" + "a" * 25 + "!",
        "key_" + "a" * 26,
        42,
    ],
    ids=repr,
)
def test_bad_exchange_account_ids_rejected(account: Any) -> None:
    with pytest.raises(ValidationError):
        BotCreate.model_validate(valid_bot(exchange_account_id=account))
    with pytest.raises(ValidationError):
        BotUpdate(exchange_account_id=account)


@pytest.mark.parametrize("name", ["", "   ", "a" * 65, "bad\x00name", "tab\tinside", "del\x7f"], ids=repr)
def test_bad_names_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        BotCreate.model_validate(valid_bot(name=name))


# ------------------------------------------------------------------ BotUpdate


@pytest.mark.parametrize(
    "body",
    [
        {"status": "running"},
        {"tenant_id": "ten_other"},
        {"name": "x", "status": "running"},
        {"name": "x", "tenant_id": "ten_other"},
        {"version": 7},
        {"id": "bot_x"},
    ],
    ids=["status", "tenant", "name+status", "name+tenant", "version", "id"],
)
def test_bot_update_rejects_mass_assignment(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BotUpdate.model_validate(body)
    with pytest.raises(ValidationError):
        BotUpdate.model_validate_json(json.dumps(body))


def test_empty_bot_update_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one field"):
        BotUpdate.model_validate({})
    with pytest.raises(ValidationError, match="at least one field"):
        BotUpdate.model_validate_json("{}")


@pytest.mark.parametrize("field", ["name", "exchange_account_id", "symbol", "strategy", "risk"])
def test_null_values_in_bot_update_rejected(field: str) -> None:
    with pytest.raises(ValidationError, match="cannot be null"):
        BotUpdate.model_validate({field: None})
    with pytest.raises(ValidationError, match="cannot be null"):
        BotUpdate.model_validate_json(json.dumps({field: None}))
    if field != "name":
        # A null next to a valid change is still rejected, not silently ignored.
        with pytest.raises(ValidationError, match="cannot be null"):
            BotUpdate.model_validate({"name": "ok", field: None})


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "renamed"}, {"name"}),
        ({"risk": {"max_position_notional": "5", "max_daily_loss": "1", "max_open_orders": 1}}, {"risk"}),
        ({"strategy": VALID_STRATEGIES["grid"], "symbol": "ETH/USDT"}, {"strategy", "symbol"}),
        ({"exchange_account_id": "paper"}, {"exchange_account_id"}),
    ],
)
def test_partial_bot_update_accepted(body: dict[str, Any], fields: set[str]) -> None:
    update = BotUpdate.model_validate(body)
    assert update.model_fields_set == fields
    for field in fields:
        assert getattr(update, field) is not None
    for field in set(BotUpdate.model_fields) - fields:
        assert getattr(update, field) is None


def test_bot_update_validates_nested_strategy() -> None:
    with pytest.raises(ValidationError):
        BotUpdate.model_validate({"strategy": {"type": "sma_cross", "params": {"fast": 50, "slow": 20}}})
    with pytest.raises(ValidationError):
        BotUpdate.model_validate({"risk": {"max_position_notional": "NaN", "max_daily_loss": 1, "max_open_orders": 1}})


# ------------------------------------------------------------------ new indicator strategies


@pytest.mark.parametrize("model", [EmaCrossParams, MacdCrossParams])
@pytest.mark.parametrize(("fast", "slow"), [(26, 26), (30, 26)])
def test_fast_must_be_below_slow_for_every_crossing(model: type[Any], fast: int, slow: int) -> None:
    with pytest.raises(ValidationError, match="fast must be smaller than slow"):
        model(fast=fast, slow=slow)


def test_indicator_strategy_defaults() -> None:
    rsi = RsiReversionParams()
    assert (rsi.period, rsi.oversold, rsi.overbought, rsi.timeframe) == (14, 30.0, 70.0, "1m")
    macd = MacdCrossParams()
    assert (macd.fast, macd.slow, macd.signal) == (12, 26, 9)
    bands = BollingerReversionParams()
    assert (bands.period, bands.std_dev) == (20, 2.0)


@pytest.mark.parametrize(("oversold", "overbought"), [(70, 30), (50, 50)])
def test_rsi_oversold_must_be_below_overbought(oversold: float, overbought: float) -> None:
    with pytest.raises(ValidationError, match="oversold must be below overbought"):
        RsiReversionParams(oversold=oversold, overbought=overbought)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (RsiReversionParams, {"period": 1}),
        (RsiReversionParams, {"oversold": 0}),
        (RsiReversionParams, {"overbought": 100}),
        (MacdCrossParams, {"signal": 0}),
        (MacdCrossParams, {"slow": 1001}),
        (BollingerReversionParams, {"std_dev": 0}),
        (BollingerReversionParams, {"std_dev": 10.5}),
        (BollingerReversionParams, {"period": 1}),
        (EmaCrossParams, {"fast": 2, "slow": 3, "timeframe": "3m"}),
        (EmaCrossParams, {"fast": 2}),
    ],
)
def test_indicator_strategy_bounds(model: type[Any], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize("literal", NON_FINITE_JSON)
def test_non_finite_floats_rejected_json(literal: str) -> None:
    with pytest.raises(ValidationError):
        BollingerReversionParams.model_validate_json(f'{{"std_dev": {literal}}}')
    with pytest.raises(ValidationError):
        RsiReversionParams.model_validate_json(f'{{"oversold": {literal}}}')


# ------------------------------------------------------------------ sizing


def test_sizing_modes_give_the_quote_value_of_a_full_position() -> None:
    fixed = EmaCrossParams.model_validate(
        {"fast": 2, "slow": 3, "sizing": {"mode": "fixed_notional", "notional": "250"}}
    )
    assert isinstance(fixed.sizing, FixedNotional)
    assert fixed.position_notional() == Decimal(250)
    share = EmaCrossParams.model_validate(
        {"fast": 2, "slow": 3, "sizing": {"mode": "percent_of_capital", "percent": "12.5", "capital": "800"}}
    )
    assert isinstance(share.sizing, PercentOfCapital)
    assert share.position_notional() == Decimal(100)
    # The older field still sizes a bot; with neither, the worker sizes from the risk limits.
    assert SmaCrossParams(fast=2, slow=3, order_notional=Decimal("40")).position_notional() == Decimal(40)
    assert SmaCrossParams(fast=2, slow=3).position_notional() is None
    signal = SignalParams.model_validate({"sizing": {"mode": "fixed_notional", "notional": 5}})
    assert signal.position_notional() == Decimal(5)


def test_sizing_or_order_notional_not_both() -> None:
    with pytest.raises(ValidationError, match="give either sizing or order_notional, not both"):
        SmaCrossParams.model_validate(
            {"fast": 2, "slow": 3, "order_notional": "10", "sizing": {"mode": "fixed_notional", "notional": "10"}}
        )


@pytest.mark.parametrize(
    "sizing",
    [
        {"mode": "fixed_notional"},
        {"mode": "fixed_notional", "notional": "0"},
        {"mode": "percent_of_capital", "percent": 0, "capital": "100"},
        {"mode": "percent_of_capital", "percent": 101, "capital": "100"},
        {"mode": "percent_of_capital", "percent": 10},
        {"mode": "all_in"},
        {"mode": "fixed_notional", "notional": "10", "percent": 5},
    ],
    ids=["no-notional", "zero", "zero-percent", "over-100", "no-capital", "unknown-mode", "extra"],
)
def test_bad_sizing_rejected(sizing: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RsiReversionParams.model_validate({"sizing": sizing})


def test_unset_sizing_is_not_stored() -> None:
    """Bots stored before sizing existed read back exactly as they were written."""
    assert "sizing" not in json.loads(SmaCrossParams(fast=2, slow=3).model_dump_json())
    dumped = json.loads(
        RsiReversionParams.model_validate(
            {"sizing": {"mode": "percent_of_capital", "percent": 10, "capital": "1000"}}
        ).model_dump_json()
    )
    assert dumped["sizing"] == {"mode": "percent_of_capital", "percent": "10", "capital": "1000"}
    assert RsiReversionParams.model_validate(dumped).position_notional() == Decimal(100)


# ------------------------------------------------------------------ dca: new fields and the migration


def test_first_schema_dca_bodies_migrate() -> None:
    migrated = DcaParams.model_validate({"interval": "1w", "order_notional": "25.5", "max_orders": 10})
    assert migrated.interval == "1w"
    assert migrated.order_notional == Decimal("25.5")
    assert migrated.max_safety_orders == 9  # max_orders counted the base order too
    # As stored by the first schema (null max_orders): the defaults apply.
    stored = DcaParams.model_validate_json('{"interval": "1d", "order_notional": "10", "max_orders": null}')
    assert stored.max_safety_orders == DcaParams(order_notional=Decimal("10")).max_safety_orders
    assert DcaParams.model_validate({"order_notional": "1", "max_orders": 100_000}).max_safety_orders == 25
    assert DcaParams.model_validate({"order_notional": "1", "max_orders": 1}).max_safety_orders == 0
    # A migrated bot stores the new shape, which validates as is.
    again = DcaParams.model_validate_json(migrated.model_dump_json())
    assert again == migrated
    assert "max_orders" not in json.loads(migrated.model_dump_json())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"order_notional": "1", "max_orders": 5, "max_safety_orders": 3}, "give only max_safety_orders"),
        ({"order_notional": "1", "max_orders": 0}, "max_orders must be a whole number"),
        ({"order_notional": "1", "max_orders": 100_001}, "max_orders must be a whole number"),
        ({"order_notional": "1", "max_orders": "ten"}, "max_orders must be a whole number"),
        ({"order_notional": "1", "max_orders": True}, "max_orders must be a whole number"),
    ],
)
def test_bad_first_schema_dca_bodies(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DcaParams.model_validate(body)


def test_dca_3commas_fields() -> None:
    params = DcaParams.model_validate_json(
        '{"order_notional": "100", "safety_order_notional": "50", "price_deviation_pct": "1.5",'
        ' "safety_volume_scale": "2", "safety_step_scale": "1.5", "max_safety_orders": 4,'
        ' "max_active_safety_orders": 2, "take_profit_pct": "2", "stop_loss_pct": "20"}'
    )
    # Deviations 1.5, 1.5 + 2.25, + 3.375, + 5.0625 percent; notionals 50, 100, 200, 400.
    assert [params.safety_deviation_pct(n) for n in range(5)] == [
        0,
        Decimal("1.5"),
        Decimal("3.75"),
        Decimal("7.125"),
        Decimal("12.1875"),
    ]
    assert [params.safety_notional(n) for n in range(1, 5)] == [50, 100, 200, 400]
    assert DcaParams(order_notional=Decimal("30")).safety_notional(1) == 30  # defaults to the base order
    assert json.loads(params.model_dump_json())["stop_loss_pct"] == "20"


def test_dca_safety_orders_must_stay_above_zero() -> None:
    with pytest.raises(ValidationError, match="the last safety order would be 100% below the base price"):
        DcaParams(order_notional=Decimal("1"), price_deviation_pct=Decimal("10"), max_safety_orders=10)
    dca = DcaParams(order_notional=Decimal("1"), price_deviation_pct=Decimal("10"), max_safety_orders=9)
    assert dca.max_safety_orders == 9


@pytest.mark.parametrize(
    "body",
    [
        {"price_deviation_pct": 0},
        {"price_deviation_pct": 51},
        {"safety_volume_scale": "0.05"},
        {"safety_step_scale": 11},
        {"max_safety_orders": 101},
        {"max_safety_orders": -1},
        {"max_active_safety_orders": 0},
        {"take_profit_pct": 0},
        {"stop_loss_pct": 100},
        {"take_profit_pct": "NaN"},
        {"safety_order_notional": 0},
    ],
    ids=repr,
)
def test_dca_bounds(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DcaParams.model_validate({"order_notional": "1", **body})


# ------------------------------------------------------------------ grid: spacing


def test_first_schema_grid_bodies_are_arithmetic() -> None:
    grid = GridParams.model_validate(VALID_STRATEGIES["grid"]["params"])
    assert grid.spacing == "arithmetic"
    assert grid.level_prices()[:3] == (Decimal(20000), Decimal("21111.1111111"), Decimal("22222.2222222"))
    assert grid.level_prices()[-1] == Decimal(30000)


def test_geometric_grid_levels_have_equal_ratios() -> None:
    grid = GridParams(
        lower_price=Decimal("100"), upper_price=Decimal("800"), levels=4, spacing="geometric", order_amount=Decimal("1")
    )
    assert grid.level_prices() == (Decimal(100), Decimal(200), Decimal(400), Decimal(800))
    with pytest.raises(ValidationError):
        GridParams.model_validate(
            {"lower_price": "1", "upper_price": "2", "levels": 2, "spacing": "logarithmic", "order_amount": "1"}
        )


def test_grid_levels_must_be_distinct_prices() -> None:
    with pytest.raises(ValidationError, match="levels are too close together"):
        # The middle level, 100000.000000005, keeps 12 significant digits: 100000, the lower price.
        GridParams(
            lower_price=Decimal("100000"), upper_price=Decimal("100000.00000001"), levels=3, order_amount=Decimal("1")
        )


def test_params_do_not_import_numpy() -> None:
    """API functions validate strategies at cold start: numpy (tens of ms to import) must wait for the workers."""
    probe = "import sys, shared.bots.schemas, shared.strategies.params; print('numpy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"
