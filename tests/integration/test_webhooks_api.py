"""webhooks_api: the event catalog and history, webhook subscriptions and their bad input,
against moto's server through the function's real handler."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from consumer_kit.webhooks import WebhookVerifier
from shared.events import catalog
from shared.events.data.orders import OrderData
from shared.events.transactions import commit_with_events
from shared.webhooks import service
from shared.webhooks.ssrf import IPAddress
from tests.support.api import Caller, LambdaApi
from tests.support.events import bot_event


@pytest.fixture
def api_a(webhooks_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_a)


@pytest.fixture
def api_b(webhooks_handler: Any, tenant_b: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_b)


FAKE_DNS: dict[str, list[str]] = {
    "hooks.example.com": ["93.184.216.34"],
    "internal.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "192.168.0.7"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in FAKE_DNS:
            raise OSError("no such host")
        return [ipaddress.ip_address(a) for a in FAKE_DNS[host]]

    monkeypatch.setattr(service, "RESOLVER", resolve)
    yield


def _rows(tenant_id: str) -> list[dict[str, Any]]:
    from shared.config import get_settings

    table = boto3.resource("dynamodb").Table(get_settings().webhook_subscriptions_table)
    return list(
        table.query(
            KeyConditionExpression="tenant_id = :t", ExpressionAttributeValues={":t": tenant_id}, ConsistentRead=True
        )["Items"]
    )


def _create(api: LambdaApi, **changes: Any) -> dict[str, Any]:
    body = {"url": "https://hooks.example.com/in", "event_types": ["order.*"], "description": "tracker"} | changes
    reply = api.post("/webhooks", body=body)
    assert reply.status == 201, reply.text
    result: dict[str, Any] = reply.json
    return result


def test_catalog_lists_every_type_with_version_and_data_schema(api_a: LambdaApi) -> None:
    reply = api_a.get("/events/types")
    assert reply.status == 200
    items = {i["type"]: i for i in reply.json["items"]}
    assert set(items) == set(catalog.EVENT_TYPES)
    assert items["order.filled"]["version"] == 1
    assert items["order.filled"]["data_schema"] == OrderData.model_json_schema()
    assert "subscription_id" in items["webhook.delivery_failed"]["data_schema"]["properties"]


def _record(tenant_id: str, event_type: str, bot_id: str = "bot_x") -> str:
    event = bot_event(tenant_id, event_type, bot_id)
    commit_with_events(lambda tx: None, [event])
    return event.id


def test_history_pages_newest_first_and_filters_by_type_and_time(
    api_a: LambdaApi, tenant_a: Caller, tenant_b: Caller
) -> None:
    ids = [_record(tenant_a.tenant_id, t) for t in ("bot.created", "bot.started", "bot.paused", "bot.started")]
    _record(tenant_b.tenant_id, "bot.started")
    own = [i for i in [e["id"] for e in api_a.get("/events?limit=100").json["items"]] if i in ids]
    assert own == list(reversed(ids))

    first = api_a.get("/events?limit=2&type_prefix=bot.")
    assert [e["id"] for e in first.json["items"]] == [ids[3], ids[2]]
    second = api_a.get(f"/events?limit=2&type_prefix=bot.&cursor={first.json['next_cursor']}")
    assert [e["id"] for e in second.json["items"]] == [ids[1], ids[0]]

    started = api_a.get("/events?type_prefix=bot.started").json["items"]
    assert [e["id"] for e in started] == [ids[3], ids[1]]
    assert all(e["tenant_id"] == tenant_a.tenant_id for e in api_a.get("/events?limit=100").json["items"])

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert api_a.get(f"/events?since={future}").json["items"] == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert len(api_a.get(f"/events?since={past}&until={future}&type_prefix=bot.").json["items"]) == 4


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "cursor=garbage",
        "type_prefix=BAD!",
        "since=yesterday",
        "since=2026-01-01T00:00:00",  # no time zone
        "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
    ],
)
def test_history_bad_queries_are_4xx(api_a: LambdaApi, query: str) -> None:
    reply = api_a.get(f"/events?{query}")
    assert 400 <= reply.status < 500, reply.text
    assert reply.error_code


def test_create_shows_the_secret_once_then_never(api_a: LambdaApi) -> None:
    created = _create(api_a)
    assert created["secret"].startswith("whsec_")
    WebhookVerifier(created["secret"])  # a well-formed secret
    assert created["status"] == "enabled" and created["event_types"] == ["order.*"]
    fetched = api_a.get(f"/webhooks/{created['id']}")
    assert fetched.status == 200 and "secret" not in fetched.json
    assert created["secret"] not in fetched.text
    listed = api_a.get("/webhooks").json["items"]
    assert [w["id"] for w in listed] == [created["id"]] and created["secret"] not in json.dumps(listed)


def test_patch_delete_and_isolation(api_a: LambdaApi, api_b: LambdaApi) -> None:
    created = _create(api_a)
    path = f"/webhooks/{created['id']}"
    assert api_b.get(path).status == 404
    assert api_b.patch(path, body={"description": "mine now"}).status == 404
    assert api_b.delete(path).status == 404
    assert api_b.post(f"{path}/rotate-secret").status == 404
    patched = api_a.patch(path, body={"event_types": ["*"], "description": "all"})
    assert patched.status == 200 and patched.json["event_types"] == ["*"]
    assert api_a.delete(path).status == 204
    assert api_a.get(path).status == 404


def test_rotation_returns_a_new_secret_and_an_overlap_end(api_a: LambdaApi) -> None:
    created = _create(api_a)
    reply = api_a.post(f"/webhooks/{created['id']}/rotate-secret")
    assert reply.status == 200
    assert reply.json["secret"].startswith("whsec_") and reply.json["secret"] != created["secret"]
    ends = datetime.fromisoformat(reply.json["previous_secret_expires_at"])
    assert timedelta(hours=23) < ends - datetime.now(UTC) <= timedelta(hours=24)
    assert api_a.get(f"/webhooks/{created['id']}").json["previous_secret_expires_at"] is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # plain http to a public host
        "https://10.0.0.1/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:10.0.0.1]/x",
        "https://100.64.0.1/x",
        "https://internal.example.com/in",
        "https://mixed.example.com/in",
        "https://nosuch.example.com/in",
        "https://user:pw@hooks.example.com/in",
        "https://2130706433/",
        "ftp://hooks.example.com/",
        "not a url",
    ],
)
def test_ssrf_refusals_at_subscription_write_nothing(api_a: LambdaApi, tenant_a: Caller, url: str) -> None:
    reply = api_a.post("/webhooks", body={"url": url, "event_types": ["*"]})
    assert reply.status == 422, reply.text
    assert reply.error_code == "webhook_url_refused"
    assert _rows(tenant_a.tenant_id) == []


def test_loopback_is_refused_outside_local_mode(
    api_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings

    strict = replace(get_settings(), webhooks_allow_loopback_http=False)
    monkeypatch.setattr(service, "get_settings", lambda: strict)
    for url in ("http://127.0.0.1:8080/x", "https://127.0.0.1/x", "https://[::1]/x", "https://[::ffff:127.0.0.1]/x"):
        reply = api_a.post("/webhooks", body={"url": url, "event_types": ["*"]})
        assert reply.status == 422 and reply.error_code == "webhook_url_refused", url
    assert _rows(tenant_a.tenant_id) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "https://hooks.example.com/in"},
        {"event_types": ["*"]},
        {"url": "https://hooks.example.com/in", "event_types": []},
        {"url": "https://hooks.example.com/in", "event_types": ["nosuch.*"]},
        {"url": "https://hooks.example.com/in", "event_types": ["order.fill"]},
        {"url": "https://hooks.example.com/in", "event_types": "order.*"},
        {"url": "https://hooks.example.com/in", "event_types": ["*"], "tenant_id": "other"},
        {"url": "https://hooks.example.com/in", "event_types": ["*"], "description": "x" * 257},
        {"url": "https://hooks.example.com/in", "event_types": ["*"], "secret": "whsec_mine"},
    ],
)
def test_bad_create_bodies_are_4xx_and_write_nothing(api_a: LambdaApi, tenant_a: Caller, body: Any) -> None:
    reply = api_a.post("/webhooks", body=body)
    assert 400 <= reply.status < 500 and reply.error_code, reply.text
    assert _rows(tenant_a.tenant_id) == []
    assert api_a.post("/webhooks", raw_body="{not json").status == 400


def test_bad_input_on_every_subscription_endpoint_changes_nothing(api_a: LambdaApi, tenant_a: Caller) -> None:
    created = _create(api_a)
    path = f"/webhooks/{created['id']}"
    before = _rows(tenant_a.tenant_id)
    for method, url, body in [
        ("PATCH", path, {}),
        ("PATCH", path, {"url": None}),
        ("PATCH", path, {"url": "https://10.0.0.1/"}),
        ("PATCH", path, {"event_types": ["bogus"]}),
        ("PATCH", path, {"status": "disabled"}),
        ("POST", f"{path}/replay", {}),
        ("POST", f"{path}/replay", {"event_id": "nope"}),
        ("POST", f"{path}/replay", {"since": "2026-01-01T00:00:00Z"}),
        ("POST", f"{path}/replay", {"event_id": "evt_" + "0" * 26, "since": "2026-01-01T00:00:00Z"}),
        ("POST", f"{path}/replay", {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
        ("POST", f"{path}/replay", {"event_id": "evt_" + "0" * 26}),  # no such event: 404
        ("GET", f"{path}/deliveries?limit=0", None),
        ("GET", f"{path}/deliveries?cursor=xyz", None),
        ("GET", "/webhooks/wh_nope", None),
        ("POST", "/webhooks/not-an-id/test", None),
        ("POST", "/webhooks/wh_00000000000000000000000000/enable", None),
    ]:
        reply = api_a.request(method, url, body=body)
        assert 400 <= reply.status < 500 and reply.error_code, (method, url, body, reply.text)
    assert _rows(tenant_a.tenant_id) == before


def test_read_scope_cannot_change_subscriptions(webhooks_handler: Any, tenant_a: Caller) -> None:
    reader = LambdaApi(webhooks_handler, Caller(tenant_a.tenant_id, tenant_a.principal_id, scopes=("read",)))
    reply = reader.post("/webhooks", body={"url": "https://hooks.example.com/in", "event_types": ["*"]})
    assert reply.status == 403
    assert reader.get("/webhooks").status == 200
    assert _rows(tenant_a.tenant_id) == []
