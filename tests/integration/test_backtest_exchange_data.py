"""The `exchange` data source: the backtest worker pages through an exchange's public candles
(ccxt's fetch_ohlcv with `since`), here against the fake Binance over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.backtests import BacktestRig, backtest_body, key
from tests.support.fake_exchange.faults import Endpoint
from tests.support.fake_exchange.server import FakeBinance
from tests.support.trading import point_binance_at  # noqa: F401 - the fixture

MINUTE = 60_000


@pytest.fixture
def api_a(tenant_a: Caller) -> LambdaApi:
    from functions.backtests_api.app import lambda_handler

    return LambdaApi(lambda_handler, tenant_a)


@pytest.fixture
def rig(test_cloud: TestCloud) -> BacktestRig:
    rig = BacktestRig(test_cloud)
    rig.drain()
    return rig


@pytest.fixture
def binance(point_binance_at: Any) -> Iterator[FakeBinance]:  # noqa: F811 - the imported fixture
    with FakeBinance() as fake:
        point_binance_at(fake, timeout_ms=5_000)
        yield fake


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _exchange_body(start_ms: int, end_ms: int, symbol: str = "BTC/USDT") -> dict[str, Any]:
    return backtest_body(
        symbol=symbol,
        timeframe="1m",
        start=_iso(start_ms),
        end=_iso(end_ms),
        data_source={"type": "exchange", "exchange": "binance"},
    )


def test_a_backtest_on_exchange_history_pages_through_the_range(
    api_a: LambdaApi, rig: BacktestRig, binance: FakeBinance
) -> None:
    start = (int(time.time() * 1000) // MINUTE - 3_000) * MINUTE
    end = start + 2_500 * MINUTE  # 2,500 closed minutes: three pages of at most 1,000
    reply = api_a.post("/backtests", body=_exchange_body(start, end), headers=key())
    assert reply.status == 202, reply.text
    assert rig.drain() == 1
    done = api_a.get(f"/backtests/{reply.json['id']}").json
    assert done["status"] == "succeeded", done
    assert done["bars"] == 2_500
    pages = binance.requests_to(Endpoint.KLINES)
    assert [int(r.params["startTime"]) for r in pages] == [start, start + 1_000 * MINUTE, start + 2_000 * MINUTE]
    assert all(r.params["interval"] == "1m" and r.params["symbol"] == "BTCUSDT" for r in pages)
    curve = api_a.get(f"/backtests/{reply.json['id']}/equity?points=2").json
    assert curve["timestamps"] == [start, end - MINUTE]

    # Another job on the same closed range (a sweep's next combination) reads the stored history.
    again = api_a.post("/backtests", body=_exchange_body(start, end) | {"fee_rate": 0.002}, headers=key())
    assert again.status == 202, again.text
    rig.drain()
    second = api_a.get(f"/backtests/{again.json['id']}").json
    assert second["status"] == "succeeded" and second["bars"] == 2_500
    assert len(binance.requests_to(Endpoint.KLINES)) == 3  # no new page asked


def test_history_of_a_range_not_closed_yet_is_fetched_again(
    api_a: LambdaApi, rig: BacktestRig, binance: FakeBinance
) -> None:
    start = (int(time.time() * 1000) // MINUTE - 30) * MINUTE
    end = start + 60 * MINUTE  # reaches past now: the newest bars are still to come
    for _ in range(2):
        reply = api_a.post("/backtests", body=_exchange_body(start, end), headers=key())
        assert reply.status == 202, reply.text
        rig.drain()
        assert api_a.get(f"/backtests/{reply.json['id']}").json["status"] == "succeeded"
    assert len(binance.requests_to(Endpoint.KLINES)) == 2


def test_a_market_the_exchange_does_not_have_fails_the_job_with_the_reason(
    api_a: LambdaApi, rig: BacktestRig, binance: FakeBinance
) -> None:
    start = (int(time.time() * 1000) // MINUTE - 100) * MINUTE
    reply = api_a.post("/backtests", body=_exchange_body(start, start + 50 * MINUTE, "NOPE/USDT"), headers=key())
    assert reply.status == 202, reply.text
    rig.drain()
    done = api_a.get(f"/backtests/{reply.json['id']}").json
    assert done["status"] == "failed"
    assert "binance refused the candles of NOPE/USDT 1m" in done["reason"]
    assert binance.requests_to(Endpoint.KLINES) == []  # refused by the market list, before any request


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ({"type": "exchange", "exchange": "mtgox"}, "no exchange 'mtgox' for history; supported: binance"),
        ({"type": "exchange", "exchange": "binance"}, "the range lies in the future"),
    ],
)
def test_an_unknown_exchange_or_a_future_range_is_refused_before_queueing(
    api_a: LambdaApi, rig: BacktestRig, source: dict[str, Any], says: str
) -> None:
    future = (int(time.time() * 1000) // MINUTE + 60) * MINUTE
    start = future if "future" in says else future - 120 * MINUTE
    body = {**_exchange_body(start, start + 30 * MINUTE), "data_source": source}
    reply = api_a.post("/backtests", body=body, headers=key())
    assert reply.status == 422, reply.text
    assert says in reply.text
    assert rig.queued() == 0
