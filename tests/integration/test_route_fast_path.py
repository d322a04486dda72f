"""The fast route path (shared/route_fast_path.py) answers exactly as FastAPI's own handler.

Every API function is loaded twice, once with the fast path and once without it, and every route
the fast path serves is called on both with the same requests: real ids, ids that cannot exist,
malformed query strings, a caller without scopes and no caller at all. Status, content type and
body must be identical, so the shortcut can never drift from FastAPI's behaviour.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.routing import APIRoute

from shared import route_fast_path
from tests.support import payloads
from tests.support.api import Caller, LambdaApi, Reply, build_event, invoke

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTIONS = [
    "auth_api",
    "backtests_api",
    "billing_api",
    "bots_api",
    "exchange_accounts_api",
    "orders_api",
    "signals_api",
    "system_api",
    "webhooks_api",
]


def _load_without_fast_path(name: str) -> ModuleType:
    """A second copy of functions/<name>/app.py whose routes all use FastAPI's handler."""
    spec = importlib.util.spec_from_file_location(f"slow_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    route_fast_path.ENABLED = False
    try:
        spec.loader.exec_module(module)
    finally:
        route_fast_path.ENABLED = True
    return module


@pytest.fixture(scope="module")
def both_ways() -> Iterator[dict[str, tuple[ModuleType, ModuleType]]]:
    yield {
        name: (importlib.import_module(f"functions.{name}.app"), _load_without_fast_path(name))
        for name in API_FUNCTIONS
    }


def _fast_routes(module: ModuleType) -> list[APIRoute]:
    return [r for r in module.app.routes if isinstance(r, APIRoute) and getattr(r, "on_fast_path", False)]


def _urls(route: APIRoute, real_ids: dict[str, str]) -> list[str]:
    """URLs for the route: each path parameter as a real id (reads only), an id that cannot
    exist, and a malformed one; list routes also with a bad query string."""
    params = re.findall(r"{(\w+)}", route.path)
    choices: list[dict[str, str]] = [dict.fromkeys(params, "x" * 8), dict.fromkeys(params, "bot_" + "0" * 26)]
    if "GET" in (route.methods or ()) and all(p in real_ids for p in params):
        choices.append({p: real_ids[p] for p in params})
    urls = [route.path.format(**choice) for choice in choices] if params else [route.path]
    if "GET" in (route.methods or ()):
        urls += [f"{urls[0]}?limit=abc&cursor=%25%25", f"{urls[0]}?limit=1"]
    return urls


def _same(fast: Reply, slow: Reply) -> None:
    assert (fast.status, fast.headers.get("content-type"), fast.text) == (
        slow.status,
        slow.headers.get("content-type"),
        slow.text,
    )


def test_the_fast_path_serves_reads_and_bodiless_actions(both_ways: dict[str, tuple[ModuleType, ModuleType]]) -> None:
    bots = {r.path: r for r in _fast_routes(both_ways["bots_api"][0])}
    assert {"/bots/{bot_id}", "/bots", "/bots/{bot_id}/start"} <= set(bots)
    assert not _fast_routes(both_ways["bots_api"][1]), "the slow copy must not use the fast path"
    # A route with a JSON body keeps FastAPI's handler.
    create = next(r for r in both_ways["bots_api"][0].app.routes if getattr(r, "path", "") == "/bots")
    assert isinstance(create, APIRoute)


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_fast_and_generic_paths_answer_alike(
    name: str, both_ways: dict[str, tuple[ModuleType, ModuleType]], tenant_a: Caller, bots_a: LambdaApi
) -> None:
    created = bots_a.post("/bots", body=payloads.bot(), headers={"Idempotency-Key": f"parity-{name}"})
    assert created.status == 201, created.text
    real_ids = {"bot_id": created.json["id"], "account_id": "paper"}
    fast_module, slow_module = both_ways[name]
    callers: list[Caller | None] = [
        tenant_a,
        Caller(tenant_a.tenant_id, tenant_a.principal_id, scopes=()),
        None,
    ]
    compared = 0
    for route in _fast_routes(fast_module):
        for method in sorted(route.methods or ()):
            for url in _urls(route, real_ids):
                for caller in callers:
                    if method != "GET" and caller is tenant_a and "{" not in route.path:
                        continue  # it would really act (e.g. a new upload), differently each time
                    event: dict[str, Any] = build_event(method, url, caller=caller)
                    slow = invoke(slow_module.lambda_handler, event)
                    fast = invoke(fast_module.lambda_handler, event)
                    _same(fast, slow)
                    compared += 1
    assert compared > 0 or name in {"signals_api"}, f"{name}: no route on the fast path"
