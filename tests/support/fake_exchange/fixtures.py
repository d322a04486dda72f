"""Pytest fixture factory for the fake exchange; nothing is registered until a test module
assigns the result, so no conftest outside this package is involved.

    from tests.support.fake_exchange.fixtures import fake_binance_fixture

    fake_binance = fake_binance_fixture()           # fixture named "fake_binance"

    def test_something(fake_binance: FakeBinance) -> None: ...
"""

from __future__ import annotations

from tests.support.fake_exchange.server import FakeBinance
from tests.support.fake_http import ServerFixtureFactory

fake_binance_fixture = ServerFixtureFactory(FakeBinance, "fake_binance")
