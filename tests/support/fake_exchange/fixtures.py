"""Pytest fixture factory for the fake exchange; nothing is registered until a test module
assigns the result, so no conftest outside this package is involved.

    from tests.support.fake_exchange.fixtures import fake_binance_fixture

    fake_binance = fake_binance_fixture()           # fixture named "fake_binance"

    def test_something(fake_binance: FakeBinance) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from tests.support.fake_exchange.server import FakeBinance

Scope = Literal["session", "package", "module", "class", "function"]


def fake_binance_fixture(
    name: str = "fake_binance", scope: Scope = "function", **server_kwargs: Any
) -> Callable[..., Iterator[FakeBinance]]:
    """A fixture yielding a started :class:`FakeBinance` (built with ``server_kwargs``) and
    stopping it afterwards. Function scope by default, so faults and orders never leak."""

    @pytest.fixture(name=name, scope=scope)
    def _fake_binance() -> Iterator[FakeBinance]:
        with FakeBinance(**server_kwargs) as server:
            yield server

    return _fake_binance
