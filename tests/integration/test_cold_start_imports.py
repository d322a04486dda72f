"""What each function imports at cold start: only what it uses. (Timings live in benchmarks/.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

import pytest

from localcloud.template import handler_module, load_template, resources_of_type

PROBE = """
import gc, json, sys
collections = []
def counted(phase, info):  # collections once the init phase has begun (its module is loaded)
    if phase == "start" and "shared.init_phase" in sys.modules:
        collections.append(info["generation"])
gc.callbacks.append(counted)
import {module}
gc.callbacks.clear()
{extra}
mods = sorted(sys.modules)
print(json.dumps({{"gc": {{"collections": collections, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}},
                  "ccxt": [m for m in mods if m.startswith("ccxt.") or m == "ccxt"],
                  "pydantic_v1": "pydantic.v1" in sys.modules,
                  "stripe": any(m.startswith("stripe") for m in mods),
                  "encryption_sdk": any(m.startswith("aws_encryption_sdk") for m in mods),
                  "boto3": [m for m in ("boto3", "s3transfer", "pydantic_settings") if m in sys.modules],
                  "shared": [m for m in mods if m.startswith("shared.")]}}))
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


@cache  # one probe per function serves every test of this module
def _imports(module: str, extra: str = "") -> dict[str, object]:
    # As the Lambda runtime sets it: init freezes what it built (shared/init_phase.py).
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}
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


TEMPLATE = load_template()  # once for the module: each test used to parse template.yaml again
FUNCTIONS = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_no_function_imports_ccxt_or_pydantic_v1_at_cold_start(logical_id: str) -> None:
    module, _ = handler_module(TEMPLATE, logical_id)
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
    for logical_id, spec in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
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


# ---- lean-imports (issue 11): pydantic models a function does not use are not built at its import.
# Functions that validate the parameters of any strategy (the union of every strategy's models).
STRATEGY_UNION = {"BotsApiFunction", "StrategyWorkerFunction"}
# Functions that validate signal bots' parameters alone (a few models, not the union).
SIGNAL_PARAMS = {"SignalsApiFunction", "SignalWorkerFunction"}
# Backtests validate the parameters of the strategies they replay, by type (never signal bots).
BACKTESTS = {"BacktestsApiFunction", "BacktestWorkerFunction"}
# The `data` models each function builds (shared/events/data/<domain>): those of the events it
# publishes. Any other function imports none.
EVENT_DATA: dict[str, set[str]] = {
    "AuthApiFunction": {"tenants"},
    "BillingGraceCheckFunction": {"billing"},
    "BotsApiFunction": {"bots"},
    "EventRelayFunction": {"alerts"},
    "ExchangeAccountsApiFunction": {"exchange_accounts"},
    "OrderReconcilerFunction": {"orders", "reconciliation"},
    "OrdersApiFunction": {"bots", "orders", "risk"},  # the kill switch stops bots
    "SignalWorkerFunction": {"orders", "signals"},
    "SignalsApiFunction": {"signals"},
    "StrategyWorkerFunction": {"orders"},
    "TradeDlqAlerterFunction": {"alerts", "orders"},
    "TradeWorkerFunction": {"orders", "risk"},
    "WebhookDispatcherFunction": {"webhooks"},
    "WebhookDlqAlerterFunction": {"alerts", "webhooks"},
    "WebhooksApiFunction": {"webhooks"},
}


def _shared_modules(logical_id: str) -> set[str]:
    module, _ = handler_module(TEMPLATE, logical_id)
    shared = _imports(module)["shared"]
    assert isinstance(shared, list)
    return set(shared)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_only_functions_that_validate_strategies_build_their_parameter_models(logical_id: str) -> None:
    modules = _shared_modules(logical_id)
    assert ("shared.strategies.params" in modules) == (logical_id in STRATEGY_UNION)
    assert ("shared.bots.schemas" in modules) == (logical_id == "BotsApiFunction"), "the bots API's request shapes"
    assert ("shared.strategies.signal_params" in modules) == (logical_id in STRATEGY_UNION | SIGNAL_PARAMS)
    indicator_and_stepped = {"shared.strategies.indicator_params", "shared.strategies.stepped_params"}
    wanted = indicator_and_stepped if logical_id in STRATEGY_UNION | BACKTESTS else set()
    assert modules & indicator_and_stepped == wanted
    assert ("shared.strategies.sizing" in modules) == (logical_id in STRATEGY_UNION | SIGNAL_PARAMS | BACKTESTS)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_a_function_builds_only_the_event_data_models_it_publishes(logical_id: str) -> None:
    built = {
        m.removeprefix("shared.events.data.")
        for m in _shared_modules(logical_id)
        if m.startswith("shared.events.data.")
    }
    assert built == EVENT_DATA.get(logical_id, set())


def test_the_authorizer_imports_authentication_alone() -> None:
    """Not the auth service: its request shapes, password hashing and event models serve other routes."""
    modules = _shared_modules("AuthorizerFunction")
    assert "shared.auth.authentication" in modules
    assert not modules & {"shared.auth.service", "shared.auth.schemas", "shared.events.catalog"}


def test_the_backtest_worker_builds_none_of_the_backtests_api_response_models() -> None:
    """It reads stored requests back (`requests`); what clients read back is the API's alone."""
    assert "shared.backtest.responses" not in _shared_modules("BacktestWorkerFunction")
    assert "shared.backtest.responses" in _shared_modules("BacktestsApiFunction")


# ---- init phase (issue 11): a function loads without the cyclic garbage collector.
WITH_SHARED = [f for f in FUNCTIONS if f != "ExampleConsumerFunction"]  # that one imports consumer_kit only


@pytest.mark.parametrize("logical_id", WITH_SHARED)
def test_a_function_loads_without_the_cyclic_gc_and_freezes_what_it_built(logical_id: str) -> None:
    """No collection runs during the import, not even when the collector is turned back on: what
    init built is frozen first, so the passes it skipped are not merely postponed."""
    module, _ = handler_module(TEMPLATE, logical_id)
    gc_seen = _imports(module)["gc"]
    assert isinstance(gc_seen, dict)
    assert gc_seen["collections"] == [], "a collection ran during the import"
    assert gc_seen["enabled"] is True
    assert gc_seen["frozen"] > 10_000


def test_off_lambda_the_collector_is_only_turned_back_on() -> None:
    """Tests and the local cloud are long-lived: nothing is frozen there (it would keep garbage)."""
    module, _ = handler_module(TEMPLATE, "OrdersApiFunction")
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_INITIALIZATION_TYPE"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import gc; n = gc.get_freeze_count(); import {module}; print(gc.isenabled(), gc.get_freeze_count() - n)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "POWERTOOLS_TRACE_DISABLED": "true"},
        timeout=120,
    )
    assert out.stdout.split() == ["True", "0"]


def test_every_handler_module_opens_and_closes_its_init_phase() -> None:
    """`from shared import init_phase` before any other import, `init_phase.complete()` last."""
    import ast
    from pathlib import Path

    for logical_id in WITH_SHARED:
        module, _ = handler_module(TEMPLATE, logical_id)
        tree = ast.parse(Path(*module.split(".")).with_suffix(".py").read_text())
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        imports = [n for n in imports if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        first = imports[0]
        assert isinstance(first, ast.ImportFrom) and first.module == "shared", logical_id
        assert [a.name for a in first.names] == ["init_phase"], logical_id
        last = tree.body[-1]
        assert isinstance(last, ast.Expr) and ast.unparse(last) == "init_phase.complete()", logical_id
