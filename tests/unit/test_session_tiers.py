"""The root conftest starts moto only for sessions that collect from a tier that uses it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import needs_moto

ROOT = Path(__file__).resolve().parents[2]


def _config(*args: str, cwd: Path = ROOT) -> Any:
    return SimpleNamespace(args=list(args), invocation_params=SimpleNamespace(dir=cwd))


@pytest.mark.parametrize(
    "args",
    [
        ("tests/unit",),
        ("tests/unit/test_ids.py::test_x",),
        ("tests/e2e", "tests/fake_exchange_selftest"),
        ("benchmarks",),
    ],
)
def test_sessions_without_an_aws_tier_start_no_moto(args: tuple[str, ...]) -> None:
    assert not needs_moto(_config(*args))


@pytest.mark.parametrize(
    "args",
    [
        ("tests",),  # testpaths, when pytest is given no path
        (".",),
        ("tests/integration",),
        ("tests/unit", "tests/integration/test_auth.py::test_login"),
    ],
)
def test_sessions_reaching_integration_start_moto(args: tuple[str, ...]) -> None:
    assert needs_moto(_config(*args))


def test_paths_are_relative_to_where_pytest_was_invoked() -> None:
    assert needs_moto(_config("integration", cwd=ROOT / "tests"))
    assert not needs_moto(_config("unit", cwd=ROOT / "tests"))
