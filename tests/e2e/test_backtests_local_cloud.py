"""End to end: a backtest, a sweep and a dataset upload over HTTP on the local cloud (`make dev`),
the jobs run by the template's backtest worker poller."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests.e2e.conftest import LocalCloudProcess

pytestmark = pytest.mark.e2e

SETTINGS = {"symbol": "BTC/USDT", "timeframe": "1h", "start": "2024-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z"}


def _poll(cloud: LocalCloudProcess, path: str, auth: dict[str, str], done: str, timeout: float = 60) -> Any:
    """GET `path` until its `status` is `done` (the worker runs in the cloud's own poller thread)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = cloud.request("GET", path, headers=auth)
        assert reply.status == 200, reply.text
        if reply.json["status"] == done or time.monotonic() > deadline:
            return reply.json
        time.sleep(0.2)


def test_a_backtest_a_sweep_and_a_dataset_over_http(cloud: LocalCloudProcess) -> None:
    email = f"e2e-bt-{secrets.token_hex(4)}@example.com"
    assert cloud.request("POST", "/auth/signup", body={"email": email, "password": "a-long-e2e-password"}).status == 201
    login = cloud.request("POST", "/auth/login", body={"email": email, "password": "a-long-e2e-password"})
    auth = {"Authorization": f"Bearer {login.json['access_token']}"}

    body = {**SETTINGS, "strategy": {"type": "sma_cross", "params": {"fast": 5, "slow": 20}}}
    queued = cloud.request("POST", "/backtests", body=body, headers={**auth, "Idempotency-Key": "e2e-bt-1"})
    assert queued.status == 202, queued.text
    done = _poll(cloud, f"/backtests/{queued.json['id']}", auth, "succeeded")
    assert done["status"] == "succeeded", done
    assert done["metrics"]["trades"] > 0
    trades = cloud.request("GET", f"/backtests/{queued.json['id']}/trades?limit=5", headers=auth).json
    assert trades["total"] == done["metrics"]["trades"] and len(trades["items"]) <= 5
    equity = cloud.request("GET", f"/backtests/{queued.json['id']}/equity?points=20", headers=auth).json
    assert equity["points"] <= 20 and equity["equity"][-1] == pytest.approx(done["metrics"]["final_equity"])

    sweep_body = {
        **SETTINGS,
        "strategy": {"type": "ema_cross", "params": {}},
        "grid": {"fast": [5, 10, 20], "slow": [20, 40]},
    }
    sweep = cloud.request("POST", "/backtests/sweeps", body=sweep_body, headers={**auth, "Idempotency-Key": "e2e-sw-1"})
    assert sweep.status == 202, sweep.text
    assert (sweep.json["total"], sweep.json["skipped"]) == (5, 1)
    ranked = _poll(cloud, f"/backtests/sweeps/{sweep.json['id']}?rank_by=total_return", auth, "completed")
    assert (ranked["done"], ranked["total"], ranked["failed"]) == (5, 5, 0)
    values = [entry["value"] for entry in ranked["ranking"]]
    assert values == sorted(values, reverse=True)

    csv = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{1_704_067_200_000 + i * 3_600_000},100,{101 + i % 3},99,{100 + (i % 5) / 10},1\n" for i in range(48)
    )
    uploaded = cloud.request(
        "POST", "/market-data?name=e2e&symbol=BTC/USDT", raw=csv.encode(), headers={**auth, "Content-Type": "text/csv"}
    )
    assert uploaded.status == 201, uploaded.text
    assert (uploaded.json["bars"], uploaded.json["timeframe"]) == (48, "1h")
    listed = cloud.request("GET", "/market-data", headers=auth).json["items"]
    assert [d["id"] for d in listed] == [uploaded.json["id"]]
