"""Webhook delivery end to end: a real HTTP consumer on 127.0.0.1, signatures checked with the
consumer kit, and the dispatcher driven by a controllable clock and random source (no sleeps):
retries, 410, giving up after the window, disabling after N failures, filters, tenant isolation,
DNS rebinding, redirects, replay, and the template's bus -> queue -> dispatcher path."""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from consumer_kit.webhooks import WebhookVerificationFailed, WebhookVerifier
from localcloud.pollers import SqsPoller, sqs_pollers
from shared.clock import utc_now
from shared.config import get_settings
from shared.events.data.webhooks import WebhookDeliveryFailedData
from shared.events.envelope import DomainEvent, new_event
from shared.events.history import EventQuery, recent_events
from shared.events.transactions import commit_with_events
from shared.ids import new_ulid
from shared.webhooks import deliveries, dispatcher, service, subscriptions
from shared.webhooks.deliveries import DeliveryStatus
from shared.webhooks.delivery_http import DeliveryResult, deliver
from shared.webhooks.delivery_tasks import DeliveryTask
from shared.webhooks.dispatcher import Dispatcher
from shared.webhooks.retry_schedule import next_attempt_delay
from shared.webhooks.ssrf import IPAddress
from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.events import bot_event, order_event
from tests.support.webhook_consumer import HOLD, WebhookConsumer


@pytest.fixture
def consumer() -> Iterator[WebhookConsumer]:
    with WebhookConsumer() as running:
        yield running


@pytest.fixture
def other_consumer() -> Iterator[WebhookConsumer]:
    with WebhookConsumer() as running:
        yield running


def settings_with(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    patched = replace(get_settings(), **changes)
    for module in (dispatcher, subscriptions, service, deliveries):
        monkeypatch.setattr(module, "get_settings", lambda: patched)


@dataclass
class Queued:
    task: DeliveryTask
    due: datetime
    delay: int


@dataclass
class DeliveryRig:
    """The dispatcher with a fake clock, a seeded random source and an in-memory queue that
    honours DelaySeconds against that clock."""

    now: datetime = field(default_factory=utc_now)
    seed: int = 42
    queued: list[Queued] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dispatcher = Dispatcher(clock=lambda: self.now, rng=random.Random(self.seed), send=self.send)

    def send(self, tasks: Sequence[DeliveryTask], delay: int) -> None:
        self.queued.extend(Queued(t, self.now + timedelta(seconds=delay), delay) for t in tasks)

    def publish(self, event: DomainEvent) -> int:
        return self.dispatcher.fan_out(event)

    def step(self) -> tuple[DeliveryTask, DeliveryStatus]:
        nxt = min(self.queued, key=lambda q: q.due)
        self.queued.remove(nxt)
        self.now = max(self.now, nxt.due)
        return nxt.task, self.dispatcher.attempt(nxt.task)

    def run(self, max_steps: int = 2000) -> list[DeliveryStatus]:
        statuses: list[DeliveryStatus] = []
        while self.queued and len(statuses) < max_steps:
            statuses.append(self.step()[1])
        return statuses

    def timestamp(self) -> float:
        """The rig's clock as the consumer kit reads one (Unix seconds)."""
        return self.now.timestamp()

    def verifier(self, secrets: str | list[str]) -> WebhookVerifier:
        return WebhookVerifier(secrets, clock=self.timestamp)


def subscribe(api: LambdaApi, url: str, event_types: list[str] | None = None) -> dict[str, Any]:
    reply = api.post("/webhooks", body={"url": url, "event_types": event_types or ["*"]})
    assert reply.status == 201, reply.text
    result: dict[str, Any] = reply.json
    return result


def tenant_events(tenant_id: str, prefix: str) -> list[DomainEvent]:
    return recent_events(tenant_id, EventQuery(type_prefix=prefix), limit=50)[0]


@pytest.fixture
def api_a(webhooks_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_a)


@pytest.fixture
def api_b(webhooks_handler: Any, tenant_b: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_b)


def test_signed_delivery_verifies_with_the_kit_and_tampering_fails(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer
) -> None:
    sub = subscribe(api_a, consumer.url)
    rig = DeliveryRig()
    event = bot_event(tenant_a.tenant_id)
    assert rig.publish(event) == 1
    assert rig.run() == [DeliveryStatus.DELIVERED]
    [got] = consumer.received
    assert got.headers["webhook-id"] == event.id
    assert got.headers["content-type"] == "application/json"
    verified = rig.verifier(sub["secret"]).verify(got.body, got.headers)
    assert verified.json() == json.loads(event.model_dump_json())

    def fails(reason: str, verifier: WebhookVerifier, body: bytes, headers: dict[str, str]) -> None:
        with pytest.raises(WebhookVerificationFailed) as caught:
            verifier.verify(body, headers)
        assert caught.value.reason == reason

    fails("bad_signature", rig.verifier(sub["secret"]), got.body.replace(b"running", b"stopped"), got.headers)
    fails("bad_signature", rig.verifier(sub["secret"]), got.body, {**got.headers, "webhook-id": "evt_other"})
    other = api_a.post(f"/webhooks/{sub['id']}/rotate-secret").json["secret"]  # a different, valid secret
    fails("bad_signature", WebhookVerifier(other, clock=rig.timestamp), got.body, got.headers)
    late = WebhookVerifier(sub["secret"], clock=lambda: rig.now.timestamp() + 301)
    fails("timestamp_too_old", late, got.body, got.headers)
    early = WebhookVerifier(sub["secret"], clock=lambda: rig.now.timestamp() - 301)
    fails("timestamp_too_new", early, got.body, got.headers)


def test_rotation_signs_with_both_secrets_during_the_overlap_only(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer
) -> None:
    sub = subscribe(api_a, consumer.url)
    new_secret = api_a.post(f"/webhooks/{sub['id']}/rotate-secret").json["secret"]
    rig = DeliveryRig()
    rig.publish(bot_event(tenant_a.tenant_id))
    rig.run()
    during = consumer.received[-1]
    assert len(during.headers["webhook-signature"].split()) == 2
    rig.verifier(sub["secret"]).verify(during.body, during.headers)
    rig.verifier(new_secret).verify(during.body, during.headers)

    rig.now += timedelta(hours=24, seconds=1)
    rig.publish(bot_event(tenant_a.tenant_id))
    rig.run()
    after = consumer.received[-1]
    assert len(after.headers["webhook-signature"].split()) == 1
    rig.verifier(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationFailed):
        rig.verifier(sub["secret"]).verify(after.body, after.headers)


def test_failures_retry_on_the_jittered_schedule_with_the_same_id_and_every_attempt_logged(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer
) -> None:
    sub = subscribe(api_a, consumer.url)
    consumer.answer(500, 503, 429, 302, 200)
    consumer.redirect_to = "http://10.0.0.1/internal"
    rig = DeliveryRig(seed=7)
    event = bot_event(tenant_a.tenant_id)
    rig.publish(event)
    start = rig.now
    assert rig.run() == [DeliveryStatus.RETRYING] * 4 + [DeliveryStatus.DELIVERED]

    assert [r.headers["webhook-id"] for r in consumer.received] == [event.id] * 5
    assert all(r.path == "/hooks" for r in consumer.received)  # the redirect was not followed

    expected_rng = random.Random(7)
    settings = get_settings()
    moments, at = [start], start
    for attempt in range(1, 5):
        delay = next_attempt_delay(
            attempt,
            at,
            start + timedelta(hours=24),
            expected_rng,
            base=settings.webhooks_retry_base_seconds,
            cap=settings.webhooks_retry_cap_seconds,
        )
        assert delay is not None
        at += timedelta(seconds=delay)
        moments.append(at)

    log = api_a.get(f"/webhooks/{sub['id']}/deliveries").json["items"]
    [delivery] = log
    assert delivery["event_id"] == event.id and delivery["status"] == "delivered" and delivery["attempt_count"] == 5
    attempts = delivery["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 503, 429, 302, 200]
    assert [a["error"] for a in attempts] == ["http_error", "http_error", "http_error", "http_error", None]
    assert [datetime.fromisoformat(a["at"]) for a in attempts] == [
        m.replace(microsecond=m.microsecond // 1000 * 1000) for m in moments
    ]
    assert [a["next_retry_at"] for a in attempts[:4]] == [a["at"] for a in attempts[1:]]
    assert attempts[4]["next_retry_at"] is None and delivery["next_retry_at"] is None


def test_a_timeout_pauses_the_endpoint_then_one_probe_resumes_it(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_with(monkeypatch, webhooks_delivery_timeout_seconds=0.3)
    sub = subscribe(api_a, consumer.url)
    consumer.answer(HOLD)
    rig = DeliveryRig()
    timed_out = bot_event(tenant_a.tenant_id)
    rig.publish(timed_out)
    assert rig.step()[1] is DeliveryStatus.RETRYING
    paused_at = rig.now
    record = subscriptions.get_subscription(tenant_a.tenant_id, sub["id"])
    assert record is not None and record.paused_until is not None
    assert record.paused_until - paused_at >= timedelta(seconds=30)

    later = [bot_event(tenant_a.tenant_id) for _ in range(3)]
    for event in later:
        rig.publish(event)
    statuses: list[DeliveryStatus] = []
    while rig.queued and min(q.due for q in rig.queued) < record.paused_until:
        statuses.append(rig.step()[1])
    assert DeliveryStatus.DEFERRED in statuses
    assert len(consumer.received) == 1  # nothing was sent while paused: no more 10 s waits

    assert set(rig.run()) <= {DeliveryStatus.DEFERRED, DeliveryStatus.DELIVERED}
    delivered = [r.headers["webhook-id"] for r in consumer.received[1:]]
    assert sorted(delivered) == sorted([timed_out.id, *(e.id for e in later)])
    record = subscriptions.get_subscription(tenant_a.tenant_id, sub["id"])
    assert record is not None and record.paused_until is None and record.timeouts_in_row == 0
    [first] = [d for d in api_a.get(f"/webhooks/{sub['id']}/deliveries").json["items"] if d["event_id"] == timed_out.id]
    assert [a["error"] for a in first["attempts"]] == ["timeout", None]


def test_a_single_probe_after_the_pause(api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer) -> None:
    sub = subscribe(api_a, consumer.url)
    record = subscriptions.get_subscription(tenant_a.tenant_id, sub["id"])
    assert record is not None
    now = utc_now()
    subscriptions.pause_after_timeout(record, now - timedelta(seconds=60))  # a pause that ran out
    copies = [subscriptions.get_subscription(tenant_a.tenant_id, sub["id"]) for _ in range(3)]
    claims = [subscriptions.claim_probe(c, now, timedelta(seconds=15)) for c in copies if c is not None]
    assert claims == [True, False, False]


def test_410_disables_the_subscription_until_enabled(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer
) -> None:
    sub = subscribe(api_a, consumer.url)
    consumer.answer(410)
    rig = DeliveryRig()
    rig.publish(bot_event(tenant_a.tenant_id))
    assert rig.run() == [DeliveryStatus.GONE]
    state = api_a.get(f"/webhooks/{sub['id']}").json
    assert state["status"] == "disabled" and "410" in state["disabled_reason"]
    [disabled] = tenant_events(tenant_a.tenant_id, "webhook.disabled")
    assert disabled.data["subscription_id"] == sub["id"]

    assert rig.publish(bot_event(tenant_a.tenant_id)) == 0  # nothing for a disabled subscription
    assert api_a.post(f"/webhooks/{sub['id']}/test").status == 409
    assert api_a.post(f"/webhooks/{sub['id']}/enable").json["status"] == "enabled"
    assert rig.publish(bot_event(tenant_a.tenant_id)) == 1
    assert rig.run() == [DeliveryStatus.DELIVERED]


def test_after_the_retry_window_the_delivery_fails_and_an_event_says_so(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer
) -> None:
    consumer.default_status = 500
    sub = subscribe(api_a, consumer.url)
    rig = DeliveryRig()
    event = bot_event(tenant_a.tenant_id)
    rig.publish(event)
    start = rig.now
    statuses = rig.run()
    assert statuses[-1] is DeliveryStatus.FAILED and set(statuses[:-1]) == {DeliveryStatus.RETRYING}
    assert rig.now == start + timedelta(hours=24)  # the last attempt lands on the deadline
    requests = consumer.received
    assert len(requests) == len(statuses) and {r.headers["webhook-id"] for r in requests} == {event.id}

    [delivery] = api_a.get(f"/webhooks/{sub['id']}/deliveries").json["items"]
    assert delivery["status"] == "failed" and delivery["attempt_count"] == len(statuses)
    gaps = [
        datetime.fromisoformat(b["at"]) - datetime.fromisoformat(a["at"])
        for a, b in zip(delivery["attempts"], delivery["attempts"][1:], strict=False)
    ]
    assert all(timedelta(seconds=1) <= gap <= timedelta(seconds=900, milliseconds=1) for gap in gaps)
    [failed] = tenant_events(tenant_a.tenant_id, "webhook.delivery_failed")
    assert failed.data["event_id"] == event.id and failed.data["subscription_id"] == sub["id"]
    assert failed.data["attempts"] == len(statuses) and failed.data["last_status_code"] == 500
    assert api_a.get(f"/webhooks/{sub['id']}").json["consecutive_failures"] == 1


def test_n_failed_deliveries_in_a_row_disable_then_enable_resumes(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_with(monkeypatch, webhooks_disable_after_failures=2, webhooks_retry_window_hours=1)
    consumer.default_status = 500
    sub = subscribe(api_a, consumer.url)
    rig = DeliveryRig()
    rig.publish(bot_event(tenant_a.tenant_id))
    assert rig.run()[-1] is DeliveryStatus.FAILED
    assert api_a.get(f"/webhooks/{sub['id']}").json["status"] == "enabled"
    rig.publish(bot_event(tenant_a.tenant_id))
    assert rig.run()[-1] is DeliveryStatus.FAILED
    state = api_a.get(f"/webhooks/{sub['id']}").json
    assert state["status"] == "disabled" and state["disabled_reason"] == "2 deliveries in a row failed"
    [disabled] = tenant_events(tenant_a.tenant_id, "webhook.disabled")
    assert disabled.data == {
        "subscription_id": sub["id"],
        "reason": "2 deliveries in a row failed",
        "consecutive_failures": 2,
    }
    assert rig.publish(bot_event(tenant_a.tenant_id)) == 0

    consumer.default_status = 200
    enabled = api_a.post(f"/webhooks/{sub['id']}/enable").json
    assert enabled["status"] == "enabled" and enabled["consecutive_failures"] == 0
    assert rig.publish(bot_event(tenant_a.tenant_id)) == 1
    assert rig.run() == [DeliveryStatus.DELIVERED]


def test_a_delivery_in_retry_stops_when_the_subscription_is_disabled(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer
) -> None:
    sub = subscribe(api_a, consumer.url)
    consumer.answer(500, 410)
    rig = DeliveryRig()
    rig.publish(bot_event(tenant_a.tenant_id))
    rig.publish(bot_event(tenant_a.tenant_id))
    statuses = rig.run()
    assert sorted(statuses) == sorted([DeliveryStatus.RETRYING, DeliveryStatus.GONE, DeliveryStatus.SKIPPED])
    assert len(consumer.received) == 2
    assert api_a.get(f"/webhooks/{sub['id']}").json["status"] == "disabled"


def test_filters_pick_the_family_only(api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer) -> None:
    subscribe(api_a, consumer.url, ["order.*"])
    rig = DeliveryRig()
    assert rig.publish(bot_event(tenant_a.tenant_id, "bot.started")) == 0
    filled = order_event(tenant_a.tenant_id, "order.filled")
    assert rig.publish(filled) == 1
    rig.run()
    assert [r.headers["webhook-id"] for r in consumer.received] == [filled.id]


def test_a_tenant_never_receives_another_tenants_events(
    api_a: LambdaApi,
    api_b: LambdaApi,
    tenant_a: Caller,
    tenant_b: Caller,
    consumer: WebhookConsumer,
    other_consumer: WebhookConsumer,
) -> None:
    subscribe(api_a, consumer.url)
    subscribe(api_b, other_consumer.url)
    rig = DeliveryRig()
    events_b = [bot_event(tenant_b.tenant_id), order_event(tenant_b.tenant_id)]
    for event in events_b:
        rig.publish(event)
    rig.run()
    assert consumer.received == []
    assert sorted(r.headers["webhook-id"] for r in other_consumer.received) == sorted(e.id for e in events_b)
    assert {json.loads(r.body)["tenant_id"] for r in other_consumer.received} == {tenant_b.tenant_id}


def test_a_webhook_event_about_a_subscription_is_not_sent_to_it(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer, other_consumer: WebhookConsumer
) -> None:
    failing = subscribe(api_a, consumer.url)
    subscribe(api_a, other_consumer.url, ["webhook.*"])
    failed = new_event(
        "webhook.delivery_failed",
        tenant_id=tenant_a.tenant_id,
        source="tests",
        data=WebhookDeliveryFailedData(
            subscription_id=failing["id"],
            event_id="evt_x",
            event_type="bot.started",
            attempts=3,
            first_attempt_at="2026-01-01T00:00:00Z",
            last_status_code=500,
            last_error="http_error",
        ),
    )
    rig = DeliveryRig()
    assert rig.publish(failed) == 1
    rig.run()
    assert consumer.received == [] and len(other_consumer.received) == 1


def test_dns_rebinding_is_refused_at_delivery_without_connecting(
    api_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"hooks.example.com": "93.184.216.34"}

    def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(answers[host])]

    monkeypatch.setattr(service, "RESOLVER", resolve)
    sub = subscribe(api_a, "https://hooks.example.com/in")
    answers["hooks.example.com"] = "10.0.0.5"  # rebinding after the subscription passed
    dialled: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        dialled.append(address)
        raise OSError("not expected")

    def post(
        url: str, body: bytes, headers: dict[str, str], *, allow_loopback_http: bool, timeout_seconds: float
    ) -> DeliveryResult:
        return deliver(
            url,
            body,
            headers,
            allow_loopback_http=allow_loopback_http,
            timeout_seconds=timeout_seconds,
            resolver=resolve,
            connect=connect,
        )

    rig = DeliveryRig()
    rig.dispatcher.post = post
    rig.publish(bot_event(tenant_a.tenant_id))
    _, status = rig.step()
    assert status is DeliveryStatus.RETRYING and dialled == []
    [delivery] = api_a.get(f"/webhooks/{sub['id']}/deliveries").json["items"]
    assert delivery["attempts"][0]["error"] == "private" and delivery["attempts"][0]["status_code"] is None


def _persist(*events: DomainEvent) -> list[DomainEvent]:
    """Commit the events; returns them as committed (with their sequence numbers)."""
    return commit_with_events(lambda tx: None, list(events))


def test_replay_resends_exactly_the_chosen_events_with_their_original_ids(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subscribe(api_a, consumer.url, ["order.*"])
    rig = DeliveryRig()
    monkeypatch.setattr(service, "send_tasks", rig.send)
    t0 = utc_now()

    def at(event: DomainEvent, offset: timedelta) -> DomainEvent:
        """The event with an id minted at t0 + offset (ids order events by time)."""
        return event.model_copy(update={"id": "evt_" + new_ulid(int((t0 + offset).timestamp() * 1000))})

    too_early = at(order_event(tenant_a.tenant_id), timedelta(seconds=-10))
    first = at(order_event(tenant_a.tenant_id), timedelta(0))
    skipped = at(bot_event(tenant_a.tenant_id), timedelta(milliseconds=1))
    second = at(order_event(tenant_a.tenant_id, "order.canceled"), timedelta(milliseconds=2))
    too_late = at(order_event(tenant_a.tenant_id), timedelta(seconds=10))
    too_early, first, skipped, second, too_late = _persist(too_early, first, skipped, second, too_late)
    window = {"since": t0.isoformat(), "until": (t0 + timedelta(seconds=5)).isoformat()}

    reply = api_a.post(f"/webhooks/{sub['id']}/replay", body=window)
    assert reply.status == 202, reply.text
    assert reply.json == {"queued": 2, "event_ids": [first.id, second.id], "truncated": False}
    rig.run()
    assert [r.headers["webhook-id"] for r in consumer.received] == [first.id, second.id]
    assert json.loads(consumer.received[0].body) == json.loads(first.model_dump_json())

    single = api_a.post(f"/webhooks/{sub['id']}/replay", body={"event_id": second.id})
    assert single.status == 202 and single.json == {"queued": 1, "event_ids": [second.id], "truncated": False}
    rig.run()
    assert consumer.received[-1].headers["webhook-id"] == second.id
    assert api_a.post(f"/webhooks/{sub['id']}/replay", body={"event_id": skipped.id}).status == 422
    log = api_a.get(f"/webhooks/{sub['id']}/deliveries").json["items"]
    assert all(d["replay"] for d in log) and log[0]["event_id"] == second.id


# ---------------------------------------------------------------- the template's path on moto


@pytest.fixture
def deliveries_poller(test_cloud: TestCloud) -> SqsPoller:
    pollers = sqs_pollers(
        test_cloud.resolver, test_cloud.functions, test_cloud.endpoint, __import__("threading").Event()
    )
    poller = next(p for p in pollers if p.function.logical_id == "WebhookDispatcherFunction")
    boto3.client("sqs").purge_queue(QueueUrl=poller.queue_url)  # other tests' events
    return poller


def _drain(poller: SqsPoller, consumer: WebhookConsumer, expect: int) -> None:
    for _ in range(50):
        poller.poll_once(wait_seconds=0)
        if len(consumer.received) >= expect:
            return


def test_bus_rule_queue_and_dispatcher_deliver_a_recorded_event(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer, deliveries_poller: SqsPoller
) -> None:
    sub = subscribe(api_a, consumer.url, ["bot.*"])
    event = bot_event(tenant_a.tenant_id)
    _persist(event)  # outbox row + PutEvents: the rule routes it to webhook-deliveries
    _drain(deliveries_poller, consumer, 1)
    [got] = consumer.received
    assert got.headers["webhook-id"] == event.id
    assert WebhookVerifier(sub["secret"]).verify(got.body, got.headers).json()["id"] == event.id

    ping = api_a.post(f"/webhooks/{sub['id']}/test")
    assert ping.status == 202
    _drain(deliveries_poller, consumer, 2)
    body = WebhookVerifier(sub["secret"]).verify(consumer.received[1].body, consumer.received[1].headers).json()
    assert body["type"] == "webhook.ping" and body["id"] == ping.json["event_id"]
    assert body["data"]["subscription_id"] == sub["id"]


def test_while_an_attempt_hangs_other_deliveries_to_that_endpoint_are_deferred(
    api_a: LambdaApi, tenant_a: Caller, consumer: WebhookConsumer, other_consumer: WebhookConsumer
) -> None:
    hanging = subscribe(api_a, consumer.url)
    subscribe(api_a, other_consumer.url)
    consumer.answer(HOLD)
    rig = DeliveryRig()
    ticks = [100.0]
    rig.dispatcher.monotonic = lambda: ticks[0]
    rig.publish(bot_event(tenant_a.tenant_id))
    first = next(q for q in rig.queued if q.task.subscription_id == hanging["id"])
    rig.queued.remove(first)
    worker = threading.Thread(target=rig.dispatcher.attempt, args=(first.task,))
    worker.start()
    consumer.wait_for(1)  # the first attempt is now hanging inside the endpoint
    ticks[0] += 3  # ... for longer than slow_after_seconds

    rig.publish(bot_event(tenant_a.tenant_id))
    statuses = {t.subscription_id: s for t, s in (rig.step() for _ in range(3))}
    assert statuses[hanging["id"]] is DeliveryStatus.DEFERRED
    assert len(consumer.received) == 1  # the deferred one never reached the hanging endpoint
    assert len(other_consumer.received) == 2  # the other endpoint is not held up
    deferred = next(q for q in rig.queued if q.task.subscription_id == hanging["id"])
    assert 1 <= deferred.delay <= 10 + 5
    consumer.stop()  # releases the hanging request
    worker.join(timeout=15)
    assert not worker.is_alive()
