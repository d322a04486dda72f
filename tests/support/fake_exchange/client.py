"""Builds a real ccxt ``binance`` instance that talks to a :class:`FakeBinance` server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccxt

from tests.support.fake_exchange.engine import MARKETS_PATH, load_markets
from tests.support.fake_exchange.server import FakeBinance
from tests.support.fake_http import pointed_ccxt_client

DEFAULT_TIMEOUT_MS = 3000


def make_ccxt_binance(
    server: FakeBinance,
    api_key: str | None = None,
    secret: str | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    enable_rate_limit: bool = False,
    markets_path: Path = MARKETS_PATH,
) -> ccxt.binance:
    """A ccxt binance client whose every API base URL points at ``server``.

    Markets come from the committed JSON through ``set_markets`` (never over HTTP), and the
    start-up calls ccxt can make (server time, currencies) are switched off, so the only
    requests the server sees are the ones a test makes. ``api_key``/``secret`` default to the
    server's own; pass others to test authentication failures. ccxt's client-side throttle is
    off by default so tests stay fast.
    """
    # Every base (spot "public"/"private"/"v1", and sapi/fapi/dapi/... for safety) moves.
    exchange: ccxt.binance = pointed_ccxt_client(
        ccxt.binance, server, api_key, secret, timeout_ms=timeout_ms, enable_rate_limit=enable_rate_limit
    )
    exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
    exchange.options.setdefault("fetchOpenOrders", {})["warnWithoutSymbol"] = False
    exchange.set_markets(load_markets(markets_path))
    _use_spot_error_table(exchange, server.base_url)
    return exchange


def _use_spot_error_table(exchange: ccxt.binance, base_url: str) -> None:
    """ccxt picks Binance's market-specific error table by URL prefix (``https://api.binance.com``),
    so against 127.0.0.1 only the generic table would apply. Map the fake's spot URLs to the
    spot table, so error codes become the same ccxt exceptions as in production."""
    by_url = exchange.get_exceptions_by_url

    def get_exceptions_by_url(url: str | None, exact_or_broad: str) -> dict[str, Any]:
        if url is not None and url.startswith(base_url + "/api/"):
            spot: dict[str, Any] = exchange.safe_dict(exchange.exceptions, "spot", {})
            table: dict[str, Any] = exchange.safe_dict(spot, exact_or_broad, {})
            return table
        result: dict[str, Any] = by_url(url, exact_or_broad)
        return result

    exchange.get_exceptions_by_url = get_exceptions_by_url
