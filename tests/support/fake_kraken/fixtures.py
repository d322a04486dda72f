"""Pytest fixture factory for the fake Kraken; nothing is registered until a test module
assigns the result, so no conftest outside this package is involved.

    from tests.support.fake_kraken.fixtures import fake_kraken_fixture

    fake_kraken = fake_kraken_fixture()             # fixture named "fake_kraken"

    def test_something(fake_kraken: FakeKraken) -> None: ...
"""

from __future__ import annotations

from tests.support.fake_http import ServerFixtureFactory
from tests.support.fake_kraken.server import FakeKraken

fake_kraken_fixture = ServerFixtureFactory(FakeKraken, "fake_kraken")
