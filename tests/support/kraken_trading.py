"""Kraken accounts of the product code pointed at the fake Kraken server (the Kraken twin of
`point_binance_at` in tests.support.trading, kept apart so neither module has to change for the
other)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.api import LambdaApi
from tests.support.fake_kraken.engine import MARKETS_PATH
from tests.support.fake_kraken.server import FakeKraken

PointKraken = Callable[..., None]


@pytest.fixture
def point_kraken_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[PointKraken]:
    """`point_kraken_at(server)` sends every ccxt kraken call of the product code to `server`.

    Endpoint overrides already in force (e.g. binance's, from `point_binance_at`) are kept. The
    exchange timeout is made short, so an `accept_then_timeout` fault of a second or two is a
    client timeout, and ccxt's client-side throttle is off (for Kraken it waits 3 s before every
    private call); cached exchange instances and markets are dropped, so nothing set up for
    another server (or another test) is reused."""
    from shared.exchange import ccxt_adapter, connect
    from shared.exchange.ccxt_adapter import EndpointOverride

    def point(server: FakeKraken, timeout_ms: int = 400) -> None:
        from shared.config import get_settings

        overrides = {**connect.endpoint_overrides(),
                     "kraken": EndpointOverride(base_url=server.base_url, markets_file=str(MARKETS_PATH),
                                               throttle=False)}
        settings = get_settings().model_copy(update={"exchange_timeout_ms": timeout_ms})
        monkeypatch.setattr(connect, "endpoint_overrides", lambda: overrides)
        monkeypatch.setattr(connect, "get_settings", lambda: settings)
        connect._instances.clear()
        ccxt_adapter._markets_cache.clear()

    yield point
    connect._instances.clear()
    ccxt_adapter._markets_cache.clear()


def register_kraken_account(exchange_api: LambdaApi, server: FakeKraken, label: str = "fake kraken") -> str:
    """Register an account with the fake's credentials through the real API (which checks them
    with an authenticated BalanceEx call); returns its id."""
    reply = exchange_api.post("/exchange-accounts", body={
        "exchange": "kraken", "label": label, "api_key": server.api_key, "secret": server.secret})
    assert reply.status == 201, reply.text
    account_id: str = reply.json["id"]
    return account_id

