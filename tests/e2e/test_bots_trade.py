"""End to end: the seeded demo bot trades on the paper exchange by itself (nobody calls it).

The local cloud runs with `--speed 60`, so the scheduler fires every second; the bot is due as
soon as it starts, so its first tick comes with the scheduler's first run.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import LocalCloudProcess

pytestmark = pytest.mark.e2e


def _wait_for(fetch: Any, done: Any, seconds: float = 90) -> Any:
    """Poll `fetch()` until `done(result)`: the bot works on its own clock, the test only watches."""
    deadline = time.monotonic() + seconds
    result = fetch()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(0.5)
        result = fetch()
    return result


def test_the_demo_bot_places_and_fills_an_order_by_itself(cloud: LocalCloudProcess) -> None:
    auth = {"X-Api-Key": cloud.demo["api_key"]}
    bot_id = cloud.demo["bot_id"]

    def bot_orders() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = cloud.request("GET", "/orders?limit=100", headers=auth).json["items"]
        return [o for o in items if o["bot_id"] == bot_id]

    orders = _wait_for(bot_orders, lambda found: any(o["status"] == "FILLED" for o in found))
    filled = [o for o in orders if o["status"] == "FILLED"]
    assert filled, orders
    assert filled[-1]["side"] == "buy" and filled[-1]["type"] == "market"  # the dca base order

    positions = cloud.request("GET", "/positions", headers=auth).json["items"]
    mine = [p for p in positions if p["bot_id"] == bot_id]
    assert mine and Decimal(mine[0]["quantity"]) > 0

    activity = cloud.request("GET", f"/bots/{bot_id}/activity", headers=auth).json["items"]
    decisions = [a for a in activity if a["kind"] == "decision"]
    assert decisions and decisions[-1]["summary"] == "placed 1 order(s): dca:c1:base"
    assert decisions[-1]["data"]["orders"][0]["order_id"] == filled[-1]["id"]

    performance = cloud.request("GET", f"/bots/{bot_id}/performance", headers=auth).json
    assert performance["filled_orders"] >= 1 and Decimal(performance["position"]) > 0
