"""Pytest fixture factory for the fake Kraken; nothing is registered until a test module
assigns the result, so no conftest outside this package is involved.

    from tests.support.fake_kraken.fixtures import fake_kraken_fixture

    fake_kraken = fake_kraken_fixture()             # fixture named "fake_kraken"

    def test_something(fake_kraken: FakeKraken) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from tests.support.fake_kraken.server import FakeKraken

Scope = Literal["session", "package", "module", "class", "function"]


def fake_kraken_fixture(
    name: str = "fake_kraken", scope: Scope = "function", **server_kwargs: Any
) -> Callable[..., Iterator[FakeKraken]]:
    """A fixture yielding a started :class:`FakeKraken` (built with ``server_kwargs``) and
    stopping it afterwards. Function scope by default, so faults, orders and nonces never leak."""

    @pytest.fixture(name=name, scope=scope)
    def _fake_kraken() -> Iterator[FakeKraken]:
        with FakeKraken(**server_kwargs) as server:
            yield server

    return _fake_kraken
