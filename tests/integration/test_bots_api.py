"""bots_api through its lambda_handler, with events/*.json, against moto's server."""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
from typing import Any

import boto3
import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi, idempotency_header, invoke, load_event
from tests.support.payloads import bot


def _create(api: LambdaApi, **changes: Any) -> dict[str, Any]:
    reply = api.post("/bots", body=bot(**changes), headers=idempotency_header())
    assert reply.status == 201, reply.text
    created: dict[str, Any] = reply.json
    return created


def _bot_rows(tenant_id: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    rows: list[dict[str, Any]] = client.query(
        TableName=os.environ["BOTS_TABLE"],
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant_id}},
    )["Items"]
    return rows


def test_sample_create_event_creates_a_stopped_bot(bots_handler: Any, tenant_a: Caller) -> None:
    event = load_event("bots_api_create.json")
    event["requestContext"]["authorizer"] = tenant_a.context()
    event["headers"]["Idempotency-Key"] = secrets.token_hex(8)
    reply = invoke(bots_handler, event)
    assert reply.status == 201, reply.text
    created = reply.json
    assert created["status"] == "stopped"
    assert created["symbol"] == "BTC/USDT"
    assert created["strategy"] == {
        "type": "sma_cross",
        "params": {"fast": 20, "slow": 50, "timeframe": "1m", "order_notional": None},
    }
    assert created["risk"] == {"max_position_notional": "1000", "max_daily_loss": "100", "max_open_orders": 2}
    assert created["id"].startswith("bot_")
    assert [row["bot_id"]["S"] for row in _bot_rows(tenant_a.tenant_id)] == [created["id"]]


def test_sample_get_event_reads_the_bot(bots_handler: Any, bots_a: LambdaApi, tenant_a: Caller) -> None:
    created = _create(bots_a)
    event = load_event("bots_api_get.json")
    event["requestContext"]["authorizer"] = tenant_a.context()
    event["path"] = f"/bots/{created['id']}"
    event["pathParameters"] = {"proxy": created["id"]}
    reply = invoke(bots_handler, event)
    assert reply.status == 200
    assert reply.json == created


def test_full_lifecycle_publishes_an_event_per_change(bots_a: LambdaApi, tenant_a: Caller, bus_tap: BusTap) -> None:
    created = _create(bots_a)
    bot_id = created["id"]
    assert bots_a.post(f"/bots/{bot_id}/start").json["status"] == "running"
    assert bots_a.post(f"/bots/{bot_id}/pause").json["status"] == "paused"
    assert bots_a.post(f"/bots/{bot_id}/start").json["status"] == "running"
    assert bots_a.post(f"/bots/{bot_id}/stop").json["status"] == "stopped"
    renamed = bots_a.patch(f"/bots/{bot_id}", body={"name": "renamed"})
    assert renamed.status == 200 and renamed.json["name"] == "renamed"
    assert bots_a.delete(f"/bots/{bot_id}").status == 204
    assert bots_a.get(f"/bots/{bot_id}").status == 404

    events = bus_tap.of_tenant(tenant_a.tenant_id, expect=7)
    types = [e["type"] for e in events]
    assert types == [
        "bot.created",
        "bot.started",
        "bot.paused",
        "bot.started",
        "bot.stopped",
        "bot.updated",
        "bot.deleted",
    ]
    assert [e["data"]["previous_status"] for e in events[1:5]] == ["stopped", "running", "paused", "running"]
    assert events[5]["data"]["changed_fields"] == ["name"]
    for envelope in events:
        assert set(envelope) == {
            "id",
            "type",
            "version",
            "tenant_id",
            "occurred_at",
            "source",
            "data",
            "aggregate",
            "sequence",
        }
        assert envelope["data"]["bot_id"] == bot_id
        assert envelope["aggregate"] == {"type": "bot", "id": bot_id}
    assert len({e["id"] for e in events}) == 7
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5, 6, 7]  # the bot's own sequence, in commit order


def test_illegal_transitions_are_409_and_change_nothing(bots_a: LambdaApi) -> None:
    bot_id = _create(bots_a)["id"]
    for action in ("stop", "pause"):
        reply = bots_a.post(f"/bots/{bot_id}/{action}")
        assert reply.status == 409 and reply.error_code == "illegal_transition"
    assert bots_a.post(f"/bots/{bot_id}/start").status == 200
    again = bots_a.post(f"/bots/{bot_id}/start")
    assert again.status == 409
    assert again.json["error"]["details"] == {"status": "running", "action": "start"}
    assert bots_a.delete(f"/bots/{bot_id}").error_code == "bot_not_stopped"
    assert bots_a.get(f"/bots/{bot_id}").json["version"] == 2


def test_trading_config_is_frozen_while_running_but_risk_is_not(bots_a: LambdaApi) -> None:
    bot_id = _create(bots_a)["id"]
    bots_a.post(f"/bots/{bot_id}/start")
    frozen = bots_a.patch(f"/bots/{bot_id}", body={"symbol": "ETH/USDT"})
    assert frozen.status == 409 and frozen.error_code == "bot_running"
    tightened = bots_a.patch(
        f"/bots/{bot_id}", body={"risk": {"max_position_notional": 10, "max_daily_loss": 1, "max_open_orders": 1}}
    )
    assert tightened.status == 200
    assert tightened.json["risk"]["max_position_notional"] == "10"
    assert bots_a.get(f"/bots/{bot_id}").json["symbol"] == "BTC/USDT"


def test_list_pages_with_an_opaque_cursor(bots_a: LambdaApi) -> None:
    ids = [_create(bots_a, name=f"bot {i}")["id"] for i in range(5)]
    first = bots_a.get("/bots?limit=2").json
    assert [b["id"] for b in first["items"]] == ids[:2]
    second = bots_a.get(f"/bots?limit=2&cursor={first['next_cursor']}").json
    assert [b["id"] for b in second["items"]] == ids[2:4]
    third = bots_a.get(f"/bots?limit=2&cursor={second['next_cursor']}").json
    assert [b["id"] for b in third["items"]] == ids[4:]
    assert third["next_cursor"] is None


def test_a_garbled_cursor_is_400(bots_a: LambdaApi) -> None:
    for cursor in ("not-a-cursor", "eyJrIjoib3RoZXIiLCJhZnRlciI6ImJvdF8xIn0", "%00%01"):
        reply = bots_a.get(f"/bots?cursor={cursor}")
        assert reply.status == 400, cursor
        assert reply.error_code == "invalid_cursor"


def test_idempotent_create_replays_the_same_bot(bots_a: LambdaApi, tenant_a: Caller) -> None:
    headers = idempotency_header()
    first = bots_a.post("/bots", body=bot(), headers=headers)
    second = bots_a.post("/bots", body=bot(), headers=headers)
    assert first.status == second.status == 201
    assert first.json == second.json
    assert len(_bot_rows(tenant_a.tenant_id)) == 1


def test_idempotency_key_reused_with_another_body_is_422(bots_a: LambdaApi, tenant_a: Caller) -> None:
    headers = idempotency_header()
    assert bots_a.post("/bots", body=bot(), headers=headers).status == 201
    reply = bots_a.post("/bots", body=bot(name="something else"), headers=headers)
    assert reply.status == 422 and reply.error_code == "idempotency_key_reused"
    assert len(_bot_rows(tenant_a.tenant_id)) == 1


def test_idempotency_keys_are_scoped_by_tenant(
    bots_a: LambdaApi, bots_b: LambdaApi, tenant_a: Caller, tenant_b: Caller
) -> None:
    headers = idempotency_header()
    a = bots_a.post("/bots", body=bot(), headers=headers)
    b = bots_b.post("/bots", body=bot(), headers=headers)
    assert a.status == b.status == 201
    assert a.json["id"] != b.json["id"]
    assert len(_bot_rows(tenant_a.tenant_id)) == len(_bot_rows(tenant_b.tenant_id)) == 1


def test_concurrent_duplicate_is_409(bots_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second request with the key while the first is still running gets 409, not a second bot."""
    from shared.bots import service

    first_inside = threading.Event()
    release = threading.Event()
    original = service._ensure_exchange_account

    def slow_check(tenant_id: str, account_id: str) -> None:
        first_inside.set()
        release.wait(10)
        original(tenant_id, account_id)

    monkeypatch.setattr(service, "_ensure_exchange_account", slow_check)
    headers = idempotency_header()
    replies: list[Any] = []
    first = threading.Thread(target=lambda: replies.append(bots_a.post("/bots", body=bot(), headers=headers)))
    first.start()
    assert first_inside.wait(10)
    second = bots_a.post("/bots", body=bot(), headers=headers)
    release.set()
    first.join(10)
    assert second.status == 409 and second.error_code == "request_in_progress"
    assert replies[0].status == 201
    assert len(_bot_rows(tenant_a.tenant_id)) == 1


def test_create_requires_an_idempotency_key(bots_a: LambdaApi, tenant_a: Caller) -> None:
    reply = bots_a.post("/bots", body=bot())
    assert reply.status == 400 and reply.error_code == "idempotency_key_required"
    bad = bots_a.post("/bots", body=bot(), headers={"Idempotency-Key": "has spaces in it"})
    assert bad.status == 400 and bad.error_code == "idempotency_key_invalid"
    assert _bot_rows(tenant_a.tenant_id) == []


def test_read_scope_cannot_change_bots(bots_handler: Any, tenant_a: Caller) -> None:
    reader = LambdaApi(bots_handler, Caller(tenant_a.tenant_id, "key:key_x", scopes=("read",)))
    assert reader.get("/bots").status == 200
    reply = reader.post("/bots", body=bot(), headers=idempotency_header())
    assert reply.status == 403 and reply.json["error"]["details"] == {"required_scope": "trade"}


def test_unknown_route_and_method_are_json_4xx(bots_a: LambdaApi) -> None:
    missing = bots_a.get("/bots/bot_01jd0000000000000000000000/explode")
    assert missing.status == 404 and missing.error_code == "route_not_found"
    wrong = bots_a.request("PUT", "/bots")
    assert wrong.status == 405 and wrong.error_code == "method_not_allowed"


def test_sample_events_for_every_bots_route_are_well_formed(bots_handler: Any, tenant_a: Caller) -> None:
    """Every events/bots_api_*.json answers without a 5xx when aimed at this tenant."""
    for name in (
        "bots_api_list.json",
        "bots_api_get.json",
        "bots_api_update.json",
        "bots_api_start.json",
        "bots_api_stop.json",
        "bots_api_delete.json",
    ):
        event = copy.deepcopy(load_event(name))
        event["requestContext"]["authorizer"] = tenant_a.context()
        reply = invoke(bots_handler, event)
        assert reply.status < 500, (name, reply.text)
        assert reply.status in (200, 404), (name, reply.text)
        json.loads(reply.text)
