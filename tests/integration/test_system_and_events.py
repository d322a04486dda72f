"""system_api, the events outbox and its relay, against moto's server."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from shared.api_spec import build_spec, load_spec
from shared.clock import utc_now
from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi, invoke, load_event
from tests.support.payloads import bot


@pytest.fixture(scope="session")
def system_handler() -> Any:
    from functions.system_api.app import lambda_handler

    return lambda_handler


def test_health_sample_event(system_handler: Any) -> None:
    reply = invoke(system_handler, load_event("system_api_health.json"))
    assert reply.status == 200 and reply.json == {"status": "ok"}


def test_readiness_reports_each_dependency(system_handler: Any) -> None:
    reply = invoke(system_handler, load_event("system_api_ready.json"))
    assert reply.status == 200, reply.text
    assert reply.json["status"] == "ready"
    assert set(reply.json["checks"]) == {"dynamodb", "eventbridge"}
    assert all(check["ok"] for check in reply.json["checks"].values())


@pytest.mark.iam_unchecked("a bus that does not exist; on AWS the policy denies it, which is as unready")
def test_readiness_is_503_when_a_dependency_is_missing(system_handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import health
    from shared.config import get_settings

    settings = replace(get_settings(), event_bus_name="no-such-bus")
    monkeypatch.setattr(health, "get_settings", lambda: settings)
    reply = invoke(system_handler, load_event("system_api_ready.json"))
    assert reply.status == 503
    assert reply.json["checks"]["dynamodb"]["ok"] is True
    assert reply.json["checks"]["eventbridge"]["ok"] is False


def test_openapi_is_served_and_current(system_handler: Any) -> None:
    from tools.openapi import apps

    reply = invoke(system_handler, load_event("system_api_openapi.json"))
    assert reply.status == 200
    assert reply.json == load_spec()
    assert load_spec() == json.loads(json.dumps(build_spec(apps()))), "run `make openapi` and commit"


def test_openapi_documents_every_route_with_the_error_schema() -> None:
    spec = load_spec()
    assert spec["servers"] == [{"url": "/v1"}]
    assert {
        "/bots",
        "/bots/{bot_id}",
        "/bots/{bot_id}/start",
        "/auth/signup",
        "/api-keys",
        "/health/ready",
        "/openapi.json",
    } <= set(spec["paths"])
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    create = spec["paths"]["/bots"]["post"]
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == error_ref
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert spec["paths"]["/auth/signup"]["post"]["security"] == []


def _break_eventbridge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the publisher at an endpoint where nothing listens: a real network failure."""
    from shared.events import publisher

    dead = boto3.client(
        "events",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(connect_timeout=0.2, read_timeout=0.2, retries={"max_attempts": 1}),
    )
    monkeypatch.setattr(publisher, "_client", lambda: dead)
    monkeypatch.setattr("shared.events.publisher.time.sleep", lambda _: None)


def test_events_survive_an_eventbridge_outage(
    bots_handler: Any, tenant_a: Caller, bus_tap: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.events import models as outbox

    api = LambdaApi(bots_handler, tenant_a)
    with monkeypatch.context() as patched:
        _break_eventbridge(patched)
        created = api.post("/bots", body=bot(), headers={"Idempotency-Key": secrets.token_hex(8)})
        started = api.post(f"/bots/{created.json['id']}/start")
    assert created.status == 201 and started.status == 200  # the change stands
    assert bus_tap.of_tenant(tenant_a.tenant_id) == []  # nothing reached the bus yet
    pending = [r for r in outbox.EventRecord.query(tenant_a.tenant_id) if r.publish_shard]
    assert [r.type for r in pending] == ["bot.created", "bot.started"]

    # The scheduled relay, a minute later, publishes them.
    from functions.event_relay.app import lambda_handler as relay

    later = utc_now() + timedelta(minutes=1)
    monkeypatch.setattr("shared.events.models.utc_now", lambda: later)
    reply = relay(load_event("event_relay_schedule.json"), _context())
    assert reply["relayed"] >= 2
    events = bus_tap.of_tenant(tenant_a.tenant_id, expect=2)
    assert [e["type"] for e in events] == ["bot.created", "bot.started"]
    assert [e["id"] for e in events] == [r.event_id for r in pending]
    assert not [r for r in outbox.EventRecord.query(tenant_a.tenant_id) if r.publish_shard]


def test_recent_unpublished_events_are_left_to_their_writer(tenant_a: Caller) -> None:
    """The relay skips rows younger than its delay, which a live request is still publishing."""
    from shared.events import models as outbox
    from shared.events.data.tenants import TenantCreatedData
    from shared.events.envelope import new_event

    event = new_event(
        "tenant.created",
        tenant_id=tenant_a.tenant_id,
        source="test",
        data=TenantCreatedData(tenant_id=tenant_a.tenant_id, name="n", plan="free"),
    )
    outbox.record_for(event).save()
    recent = {r.event_id for r in outbox.unpublished_events(timedelta(seconds=30))}
    assert event.id not in recent
    assert event.id in {r.event_id for r in outbox.unpublished_events(timedelta(seconds=-1))}


def _context() -> Any:
    from localcloud.functions import FakeLambdaContext

    return FakeLambdaContext("event_relay", 256, 60)


def _unpublished_event(tenant_id: str, name: str) -> Any:
    from shared.events import models as outbox
    from shared.events.data.tenants import TenantCreatedData
    from shared.events.envelope import new_event

    event = new_event(
        "tenant.created",
        tenant_id=tenant_id,
        source="test",
        data=TenantCreatedData(tenant_id=tenant_id, name=name, plan="free"),
    )
    outbox.record_for(event).save()
    return event


def test_every_event_published_inline_leaves_the_relays_index(tenant_a: Caller, bus_tap: BusTap) -> None:
    """Several events published inline are marked in one request (a transaction): all of them."""
    from shared.events import models as outbox
    from shared.events.publisher import publish_recorded

    events = [_unpublished_event(tenant_a.tenant_id, f"together {n}") for n in range(3)]
    pending = {r.event_id for r in outbox.unpublished_events(timedelta(seconds=-1))}
    assert {e.id for e in events} <= pending
    assert publish_recorded(events)
    pending = {r.event_id for r in outbox.unpublished_events(timedelta(seconds=-1))}
    assert not {e.id for e in events} & pending
    assert {e.id for e in events} <= {e["id"] for e in bus_tap.of_tenant(tenant_a.tenant_id, expect=3)}


def test_an_unreadable_outbox_row_is_quarantined_and_blocks_nothing(tenant_a: Caller, bus_tap: BusTap) -> None:
    """The review's fifth finding: a row that can never be parsed stopped the relay run, and would
    have blocked every event behind it on every run."""
    from shared.events import models as outbox
    from shared.events.relay import relay_unpublished
    from shared.ids import new_ulid

    broken = outbox.EventRecord(
        tenant_id=tenant_a.tenant_id,
        event_id="evt_" + new_ulid(1_000),  # oldest of all
        type="order.filled",
        envelope="{not an envelope",
        publish_shard=outbox.shard_for("x"),
        expires_at=utc_now() + timedelta(days=1),
    )
    broken.save()
    good = _unpublished_event(tenant_a.tenant_id, "after the broken row")
    report = relay_unpublished(older_than=timedelta(seconds=-1))
    assert report.quarantined >= 1
    assert good.id in {e["id"] for e in bus_tap.of_tenant(tenant_a.tenant_id, expect=2)}
    kept = outbox.EventRecord.get(tenant_a.tenant_id, broken.event_id)
    assert kept.publish_shard is None and kept.quarantined is not None and "unreadable" in kept.quarantined
    alerts = [e for e in bus_tap.of_tenant(tenant_a.tenant_id, expect=2) if e["type"] == "alert.event_quarantined"]
    assert [a["data"]["event_id"] for a in alerts] == [broken.event_id]
    again = relay_unpublished(older_than=timedelta(seconds=-1))  # set aside for good: not tried again
    assert broken.event_id not in {r.event_id for r in outbox.unpublished_events(timedelta(seconds=-1))}
    assert again.quarantined == 0


def test_a_row_that_cannot_be_marked_published_is_counted_and_retried_without_stopping_the_rest(
    tenant_a: Caller, bus_tap: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.events import models as outbox
    from shared.events.relay import relay_unpublished

    stuck = _unpublished_event(tenant_a.tenant_id, "cannot be marked")
    fine = _unpublished_event(tenant_a.tenant_id, "marked fine")
    real_mark = outbox.mark_published

    def mark(events: Any) -> None:
        if any(event.id == stuck.id for event in events):
            raise RuntimeError("DynamoDB said no")
        real_mark(events)

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "mark_published", mark)
        report = relay_unpublished(older_than=timedelta(seconds=-1))
    assert report.failed >= 1
    pending = {r.event_id: r for r in outbox.unpublished_events(timedelta(seconds=-1))}
    assert stuck.id in pending and pending[stuck.id].publish_attempts == 1
    assert fine.id not in pending
    assert {stuck.id, fine.id} <= {e["id"] for e in bus_tap.of_tenant(tenant_a.tenant_id, expect=2)}
    relay_unpublished(older_than=timedelta(seconds=-1))  # next run: published again (at least once), marked
    assert stuck.id not in {r.event_id for r in outbox.unpublished_events(timedelta(seconds=-1))}


def test_the_api_gateway_request_id_is_the_log_correlation_id(system_handler: Any) -> None:
    from shared.observability import logger

    event = load_event("system_api_health.json")
    event["requestContext"] = {**event.get("requestContext", {}), "requestId": "req-" + secrets.token_hex(6)}
    assert invoke(system_handler, event).status == 200
    assert logger.get_correlation_id() == event["requestContext"]["requestId"]
