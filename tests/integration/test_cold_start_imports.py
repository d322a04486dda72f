"""What each function imports at cold start: only what it uses. (Timings live in benchmarks/.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from localcloud.template import handler_module, load_template, resources_of_type

PROBE = """
import json, sys
import {module}
{extra}
mods = sorted(sys.modules)
print(json.dumps({{"ccxt": [m for m in mods if m.startswith("ccxt.") or m == "ccxt"],
                  "pydantic_v1": "pydantic.v1" in sys.modules,
                  "stripe": any(m.startswith("stripe") for m in mods),
                  "encryption_sdk": any(m.startswith("aws_encryption_sdk") for m in mods),
                  "boto3": [m for m in ("boto3", "s3transfer", "pydantic_settings") if m in sys.modules]}}))
"""

TRADING = {
    "TradeWorkerFunction",
    "OrderReconcilerFunction",
    "OrdersApiFunction",
    "ExchangeAccountsApiFunction",
    "BotSchedulerFunction",
    "StrategyWorkerFunction",
}
TRADING |= {"SignalWorkerFunction"}  # signals: executes accepted signals on the bot's exchange
TRADING |= {"BacktestWorkerFunction"}  # backtests-more: the `exchange` data source pages public candles


def _imports(module: str, extra: str = "") -> dict[str, object]:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, extra=extra)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


FUNCTIONS = sorted(resources_of_type(load_template(), "AWS::Serverless::Function"))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_no_function_imports_ccxt_or_pydantic_v1_at_cold_start(logical_id: str) -> None:
    module, _ = handler_module(load_template(), logical_id)
    imported = _imports(module)
    assert imported["ccxt"] == [], "ccxt loads lazily, only when an exchange is used"
    assert imported["pydantic_v1"] is False
    assert imported["stripe"] is False
    assert imported["encryption_sdk"] is False, "the encryption SDK loads only when credentials are touched"
    assert imported["boto3"] == [], "botocore serves AWS calls (no boto3/s3transfer); settings, no pydantic-settings"


def test_trading_functions_load_only_the_exchange_class_they_need() -> None:
    imported = _imports(
        "functions.trade_worker.app",
        "from shared.exchange.ccxt_adapter import exchange_class; exchange_class('binance')",
    )
    modules = set(imported["ccxt"])  # type: ignore[call-overload]
    assert "ccxt.binance" in modules
    others = {
        m
        for m in modules
        if m.count(".") == 1 and not m.startswith(("ccxt.base", "ccxt.abstract", "ccxt.static_dependencies"))
    }
    assert others == {"ccxt.binance"}, f"other exchanges were imported: {sorted(others - {'ccxt.binance'})}"
    assert not any(m.startswith("ccxt.async_support") or m.startswith("ccxt.pro") for m in modules)


def test_the_template_attaches_the_exchange_layer_only_to_trading_functions() -> None:
    template = load_template()
    for logical_id, spec in resources_of_type(template, "AWS::Serverless::Function").items():
        layers = spec["Properties"].get("Layers", [])
        has_exchange = {"Ref": "ExchangeLayer"} in layers
        assert has_exchange == (logical_id in TRADING), logical_id


def test_settings_load_without_pydantic() -> None:
    """Settings are a dataclass: a function that uses no pydantic model (the billing usage
    reporter) must not pay for pydantic through its configuration."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys, shared.config; print(sorted(m for m in sys.modules if 'pydantic' in m))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "[]"
