"""Builds a real ccxt ``kraken`` instance that talks to a :class:`FakeKraken` server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ccxt.kraken import kraken as ccxt_kraken

from tests.support.fake_http import pointed_ccxt_client
from tests.support.fake_kraken.engine import MARKETS_PATH, load_markets
from tests.support.fake_kraken.server import FakeKraken

DEFAULT_TIMEOUT_MS = 3000


def make_ccxt_kraken(
    server: FakeKraken,
    api_key: str | None = None,
    secret: str | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    enable_rate_limit: bool = False,
    markets_path: Path = MARKETS_PATH,
) -> Any:
    """A ccxt kraken client whose every API base URL points at ``server``.

    Markets come from the committed JSON through ``set_markets`` (never over HTTP), plus the
    altname index ccxt's own ``fetch_markets`` would have built (order answers name pairs by
    altname, "XBTUSD"). ``api_key``/``secret`` default to the server's own; pass others to test
    authentication failures. ccxt's client-side throttle is off by default so tests stay fast.
    Imported from ``ccxt.kraken`` (not ``ccxt``) so it works next to the product's light import.
    """
    exchange = pointed_ccxt_client(
        ccxt_kraken, server, api_key, secret, timeout_ms=timeout_ms, enable_rate_limit=enable_rate_limit
    )
    exchange.set_markets(load_markets(markets_path))
    exchange.options["marketsByAltname"] = {m["altname"]: m for m in exchange.markets.values()}
    return exchange
