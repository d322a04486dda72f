"""End to end: the local cloud driven over HTTP like a client would, events checked on the bus."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from tests.e2e.conftest import LocalCloudProcess

pytestmark = pytest.mark.e2e

BOT = {
    "name": "eth dca",
    "symbol": "ETH/USDT",
    "exchange_account_id": "paper",
    "strategy": {"type": "dca", "params": {"interval": "1h", "order_notional": 25}},
    "risk": {"max_position_notional": 500, "max_daily_loss": 50, "max_open_orders": 1},
}


def _bus_tap(cloud: LocalCloudProcess) -> tuple[Any, str]:
    events, sqs = cloud.aws("events"), cloud.aws("sqs")
    bus = f"{cloud.stack_name}-domain-events"
    name = f"e2e-tap-{secrets.token_hex(4)}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["cryptoorchestrator"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return sqs, url


def _drain(sqs: Any, url: str, tenant_id: str, expect: int, types: tuple[str, ...] = ("",)) -> list[dict[str, Any]]:
    """The tenant's events whose type starts with one of `types`, until `expect` or 10 s."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(seen) < expect and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            detail = json.loads(message["Body"])["detail"]
            if detail["tenant_id"] == tenant_id and detail["type"].startswith(types):
                seen.append(detail)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_signup_api_key_and_bot_lifecycle_with_events_on_the_bus(cloud: LocalCloudProcess) -> None:
    sqs, queue = _bus_tap(cloud)
    email = f"e2e-{secrets.token_hex(4)}@example.com"
    signup = cloud.request("POST", "/auth/signup", body={"email": email, "password": "a-long-e2e-password"})
    assert signup.status == 201, signup.text
    tenant_id = signup.json["tenant"]["id"]
    login = cloud.request("POST", "/auth/login", body={"email": email, "password": "a-long-e2e-password"})
    assert login.status == 200
    bearer = {"Authorization": f"Bearer {login.json['access_token']}"}

    key = cloud.request("POST", "/api-keys", body={"name": "e2e", "scopes": ["read", "trade"]}, headers=bearer)
    assert key.status == 201, key.text
    auth = {"X-Api-Key": key.json["key"]}

    created = cloud.request("POST", "/bots", body=BOT, headers={**auth, "Idempotency-Key": "e2e-1"})
    assert created.status == 201, created.text
    replay = cloud.request("POST", "/bots", body=BOT, headers={**auth, "Idempotency-Key": "e2e-1"})
    assert replay.json == created.json
    bot_id = created.json["id"]
    assert [b["id"] for b in cloud.request("GET", "/bots", headers=auth).json["items"]] == [bot_id]
    assert cloud.request("GET", f"/bots/{bot_id}", headers=bearer).json["name"] == "eth dca"
    assert cloud.request("PATCH", f"/bots/{bot_id}", body={"name": "eth dca 2"}, headers=auth).status == 200
    for action, status in (("start", "running"), ("pause", "paused"), ("start", "running"), ("stop", "stopped")):
        reply = cloud.request("POST", f"/bots/{bot_id}/{action}", headers=auth)
        assert reply.status == 200 and reply.json["status"] == status
    assert cloud.request("POST", f"/bots/{bot_id}/stop", headers=auth).status == 409
    assert cloud.request("DELETE", f"/bots/{bot_id}", headers=auth).status == 204
    assert cloud.request("GET", f"/bots/{bot_id}", headers=auth).status == 404

    # The lifecycle's own events: the dca bot may also trade if a schedule tick falls while it runs
    # (its order.* events belong to other aggregates and are not what this test is about).
    events = _drain(sqs, queue, tenant_id, expect=10, types=("tenant.", "api_key.", "bot."))
    assert [e["type"] for e in events] == [
        "tenant.created",
        "api_key.created",
        "bot.created",
        "bot.updated",
        "bot.started",
        "bot.paused",
        "bot.started",
        "bot.stopped",
        "bot.deleted",
    ][: len(events)]
    assert len(events) == 9
    assert key.json["key"] not in json.dumps(events)


def test_gateway_rejects_missing_and_revoked_credentials_with_json(cloud: LocalCloudProcess) -> None:
    anonymous = cloud.request("GET", "/bots")
    assert anonymous.status == 401
    assert anonymous.json["error"]["code"] == "unauthorized"

    demo = {"X-Api-Key": cloud.demo["api_key"]}
    key = cloud.request("POST", "/api-keys", body={"name": "short-lived", "scopes": ["read"]}, headers=demo)
    assert cloud.request("GET", "/bots", headers={"X-Api-Key": key.json["key"]}).status == 200
    assert cloud.request("DELETE", f"/api-keys/{key.json['id']}", headers=demo).status == 204
    revoked = cloud.request("GET", "/bots", headers={"X-Api-Key": key.json["key"]})
    assert revoked.status == 401 and revoked.json["error"]["code"] == "unauthorized"
    forged = cloud.request("GET", "/bots", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert forged.status == 401


def test_tenant_header_cannot_cross_tenants(cloud: LocalCloudProcess) -> None:
    other = cloud.request(
        "POST",
        "/auth/signup",
        body={"email": f"o-{secrets.token_hex(4)}@example.com", "password": "a-long-e2e-password"},
    ).json
    demo = {"X-Api-Key": cloud.demo["api_key"], "X-Tenant-Id": other["tenant"]["id"]}
    listed = cloud.request("GET", "/bots", headers=demo).json["items"]
    assert cloud.demo["bot_id"] in [b["id"] for b in listed]


def test_demo_tenant_is_seeded_with_a_running_bot(cloud: LocalCloudProcess) -> None:
    bot = cloud.request("GET", f"/bots/{cloud.demo['bot_id']}", headers={"X-Api-Key": cloud.demo["api_key"]})
    assert bot.status == 200 and bot.json["status"] == "running"
    login = cloud.request(
        "POST", "/auth/login", body={"email": cloud.demo["email"], "password": cloud.demo["password"]}
    )
    assert login.status == 200


def test_system_routes_and_gateway_limits(cloud: LocalCloudProcess) -> None:
    assert cloud.request("GET", "/health").json == {"status": "ok"}
    ready = cloud.request("GET", "/health/ready")
    assert ready.status == 200 and ready.json["status"] == "ready"
    spec = cloud.request("GET", "/openapi.json").json
    assert "/bots/{bot_id}/start" in spec["paths"]
    missing = cloud.request("GET", "/no/such/route")
    assert missing.status == 404 and missing.json["error"]["code"] == "route_not_found"
    too_big = cloud.request(
        "POST",
        "/bots",
        raw=b"{" + b" " * (10 * 1024 * 1024 + 10) + b"}",
        headers={"X-Api-Key": cloud.demo["api_key"], "Idempotency-Key": "big"},
    )
    assert too_big.status == 413
    malformed = cloud.request(
        "POST", "/bots", raw=b'{"name": ', headers={"X-Api-Key": cloud.demo["api_key"], "Idempotency-Key": "bad-json"}
    )
    assert malformed.status == 400 and malformed.json["error"]["code"] == "malformed_json"


def test_manual_order_flows_through_the_queue_to_the_paper_exchange(cloud: LocalCloudProcess) -> None:
    """On the local cloud, the SQS poller runs the trade worker: the order fills by itself."""
    auth = {"X-Api-Key": cloud.demo["api_key"]}
    placed = cloud.request(
        "POST",
        "/orders",
        body={"symbol": "ETH/USDT", "side": "buy", "type": "market", "amount": "0.01"},
        headers={**auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert placed.status == 202, placed.text
    assert placed.json["status"] == "PENDING_SUBMIT"
    deadline = time.monotonic() + 20
    order = placed.json
    while order["status"] != "FILLED" and time.monotonic() < deadline:
        time.sleep(0.2)
        order = cloud.request("GET", f"/orders/{placed.json['id']}", headers=auth).json
    assert order["status"] == "FILLED", order
    balances = cloud.request("GET", "/exchange-accounts/paper/balances", headers=auth).json["balances"]
    assert balances["ETH"]["total"] == "0.01"
    positions = cloud.request("GET", "/positions", headers=auth).json["items"]
    assert any(p["symbol"] == "ETH/USDT" and p["quantity"] == "0.01" for p in positions)


# ---- signals: a TradingView-style alert over plain HTTP, no credentials but the bot's secret
def _bot_orders(cloud: LocalCloudProcess, auth: dict[str, str], bot_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        items = cloud.request("GET", "/orders?limit=100", headers=auth).json["items"]
        mine = [o for o in items if o["bot_id"] == bot_id]
        if (len(mine) >= count and all(o["status"] == "FILLED" for o in mine)) or time.monotonic() > deadline:
            return list(reversed(mine))
        time.sleep(0.2)


def test_tradingview_alerts_make_a_signal_bot_buy_and_sell(cloud: LocalCloudProcess) -> None:
    auth = {"X-Api-Key": cloud.demo["api_key"]}
    created = cloud.request(
        "POST",
        "/bots",
        headers={**auth, "Idempotency-Key": secrets.token_hex(8)},
        body={
            "name": "tv alerts",
            "symbol": "BTC/USDT",
            "strategy": {"type": "signal", "params": {"order_notional": "50"}},
            "risk": {"max_position_notional": "1000", "max_daily_loss": "100", "max_open_orders": 5},
        },
    )
    assert created.status == 201, created.text
    bot_id, secret = created.json["id"], created.json["signal_secret"]
    assert cloud.request("POST", f"/bots/{bot_id}/start", headers=auth).status == 200

    text = f"SECRET={secret}\nSYMBOL=BINANCE:BTCUSDT\nSIGNAL=BUY\nVOLUME=0.001".encode()
    bought = cloud.request("POST", f"/signals/{bot_id}", raw=text, headers={"Content-Type": "text/plain"})
    assert bought.status == 202, bought.text
    assert [(o["side"], o["amount"]) for o in _bot_orders(cloud, auth, bot_id, 1)] == [("buy", "0.001")]

    exit_alert = {
        "secret": secret,
        "ticker": "BTCUSDT",
        "action": "sell",
        "market_position": "flat",
        "market_position_size": "0",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    sold = cloud.request("POST", f"/signals/{bot_id}", body=exit_alert)
    assert sold.status == 202, sold.text
    orders = _bot_orders(cloud, auth, bot_id, 2)
    assert [(o["side"], o["amount"], o["status"]) for o in orders] == [
        ("buy", "0.001", "FILLED"),
        ("sell", "0.001", "FILLED"),
    ]
    wrong = cloud.request(
        "POST", f"/signals/{bot_id}", raw=b"SECRET=nope\nSIGNAL=BUY", headers={"Content-Type": "text/plain"}
    )
    assert (wrong.status, wrong.json["error"]["code"]) == (401, "invalid_signal_secret")
