"""SNS event streams: the payload filter policy pins the tenant and the types, and events routed
bus -> rule -> topic (through the local cloud's SNS bridge) reach only the right subscribers."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from localcloud.sns_bridge import SnsBridgePoller, sns_bridges
from shared.config import get_settings
from shared.events.envelope import DomainEvent
from shared.events.transactions import commit_with_events
from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.events import bot_event, order_event
from tests.support.webhook_consumer import WebhookConsumer


@pytest.fixture
def api_a(webhooks_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_a)


@pytest.fixture
def api_b(webhooks_handler: Any, tenant_b: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_b)


@pytest.fixture
def bridge(test_cloud: TestCloud) -> SnsBridgePoller:
    [poller] = sns_bridges(test_cloud.resolver, test_cloud.endpoint, threading.Event())
    while poller.poll_once(wait_seconds=0):  # other tests' events (PurgeQueue is allowed once a minute)
        pass
    return poller


class ConsumerQueue:
    """An SQS queue standing for a consumer's queue (same account on moto)."""

    def __init__(self) -> None:
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.create_queue(QueueName=f"consumer-{secrets.token_hex(4)}")["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def bodies(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def queue_a() -> Iterator[ConsumerQueue]:
    queue = ConsumerQueue()
    yield queue
    queue.sqs.delete_queue(QueueUrl=queue.url)


@pytest.fixture
def queue_b() -> Iterator[ConsumerQueue]:
    queue = ConsumerQueue()
    yield queue
    queue.sqs.delete_queue(QueueUrl=queue.url)


def _sns_subscriptions() -> dict[str, dict[str, Any]]:
    sns = boto3.client("sns")
    listed = sns.list_subscriptions_by_topic(TopicArn=get_settings().domain_events_topic_arn)["Subscriptions"]
    return {s["SubscriptionArn"]: s for s in listed}


def _event(tenant_id: str, event_type: str) -> DomainEvent:
    return order_event(tenant_id, event_type) if event_type.startswith("order.") else bot_event(tenant_id, event_type)


def _publish(bridge: SnsBridgePoller, *events: DomainEvent) -> list[DomainEvent]:
    """Commit and publish; returns the events as committed (numbered)."""
    committed = commit_with_events(lambda tx: None, list(events))  # outbox + PutEvents; the rule routes to the topic
    while bridge.poll_once(wait_seconds=0):
        pass
    return committed


def test_the_filter_policy_pins_the_tenant_and_the_types(
    api_a: LambdaApi, tenant_a: Caller, queue_a: ConsumerQueue
) -> None:
    reply = api_a.post(
        "/event-streams", body={"protocol": "sqs", "endpoint": queue_a.arn, "event_types": ["order.*", "bot.started"]}
    )
    assert reply.status == 201, reply.text
    expected = {"tenant_id": [tenant_a.tenant_id], "type": ["bot.started", {"prefix": "order."}]}
    assert reply.json["filter_policy"] == expected
    sns = boto3.client("sns")
    [arn] = [a for a, s in _sns_subscriptions().items() if s["Endpoint"] == queue_a.arn]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == expected
    assert attributes["FilterPolicyScope"] == "MessageBody"
    assert attributes["RawMessageDelivery"] == "true"


def test_streams_receive_only_their_tenants_events_of_their_types(
    api_a: LambdaApi,
    api_b: LambdaApi,
    tenant_a: Caller,
    tenant_b: Caller,
    queue_a: ConsumerQueue,
    queue_b: ConsumerQueue,
    bridge: SnsBridgePoller,
) -> None:
    assert (
        api_a.post(
            "/event-streams", body={"protocol": "sqs", "endpoint": queue_a.arn, "event_types": ["order.*"]}
        ).status
        == 201
    )
    assert (
        api_b.post("/event-streams", body={"protocol": "sqs", "endpoint": queue_b.arn, "event_types": ["*"]}).status
        == 201
    )
    a_filled, a_started = _event(tenant_a.tenant_id, "order.filled"), _event(tenant_a.tenant_id, "bot.started")
    b_filled = _event(tenant_b.tenant_id, "order.filled")
    a_filled, a_started, b_filled = _publish(bridge, a_filled, a_started, b_filled)
    assert [m["id"] for m in queue_a.bodies()] == [a_filled.id]
    received_b = queue_b.bodies()
    assert [m["id"] for m in received_b] == [b_filled.id]
    assert received_b[0] == json.loads(b_filled.model_dump_json())  # the envelope itself


def test_an_https_stream_gets_its_tenants_envelopes(
    api_a: LambdaApi, tenant_a: Caller, tenant_b: Caller, bridge: SnsBridgePoller
) -> None:
    with WebhookConsumer() as consumer:
        reply = api_a.post(
            "/event-streams", body={"protocol": "https", "endpoint": consumer.url, "event_types": ["bot.*"]}
        )
        assert reply.status == 201, reply.text
        mine = _event(tenant_a.tenant_id, "bot.started")
        _publish(bridge, _event(tenant_b.tenant_id, "bot.started"), mine, _event(tenant_a.tenant_id, "order.filled"))
        [push] = consumer.wait_for(1, timeout=5)
        message = json.loads(push.body)
        assert message["Type"] == "Notification" and message["TopicArn"] == get_settings().domain_events_topic_arn
        assert json.loads(message["Message"])["id"] == mine.id
        assert len(consumer.received) == 1
        assert api_a.delete(f"/event-streams/{reply.json['id']}").status == 204


def test_read_list_delete_and_isolation(api_a: LambdaApi, api_b: LambdaApi, queue_a: ConsumerQueue) -> None:
    created = api_a.post("/event-streams", body={"protocol": "sqs", "endpoint": queue_a.arn, "event_types": ["*"]})
    stream_id = created.json["id"]
    assert api_a.get(f"/event-streams/{stream_id}").json == created.json
    assert [s["id"] for s in api_a.get("/event-streams").json["items"]] == [stream_id]
    assert api_b.get(f"/event-streams/{stream_id}").status == 404
    assert api_b.delete(f"/event-streams/{stream_id}").status == 404
    assert api_b.get("/event-streams").json["items"] == []
    assert any(s["Endpoint"] == queue_a.arn for s in _sns_subscriptions().values())
    assert api_a.delete(f"/event-streams/{stream_id}").status == 204
    assert not any(s["Endpoint"] == queue_a.arn for s in _sns_subscriptions().values())
    assert api_a.get(f"/event-streams/{stream_id}").status == 404


def test_an_endpoint_backs_one_stream_only(api_a: LambdaApi, api_b: LambdaApi, queue_a: ConsumerQueue) -> None:
    assert (
        api_a.post(
            "/event-streams", body={"protocol": "sqs", "endpoint": queue_a.arn, "event_types": ["order.*"]}
        ).status
        == 201
    )
    before = _sns_subscriptions()
    taken = api_b.post("/event-streams", body={"protocol": "sqs", "endpoint": queue_a.arn, "event_types": ["*"]})
    assert taken.status == 409 and taken.error_code == "endpoint_already_subscribed"
    assert _sns_subscriptions() == before
    assert api_b.get("/event-streams").json["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"protocol": "http", "endpoint": "http://example.com/", "event_types": ["*"]},
        {"protocol": "https", "endpoint": "http://example.com/in", "event_types": ["*"]},
        {"protocol": "https", "endpoint": "not a url", "event_types": ["*"]},
        {"protocol": "sqs", "endpoint": "https://sqs.us-east-1.amazonaws.com/1/q", "event_types": ["*"]},
        {"protocol": "sqs", "endpoint": "arn:aws:sns:us-east-1:123456789012:topic", "event_types": ["*"]},
        {"protocol": "email", "endpoint": "nobody", "event_types": ["*"]},
        {"protocol": "email", "endpoint": "a@example.com", "event_types": []},
        {"protocol": "email", "endpoint": "a@example.com", "event_types": ["bogus.*"]},
        {"protocol": "email", "endpoint": "a@example.com", "event_types": ["*"], "filter_policy": {}},
        {"protocol": "email", "endpoint": "a@example.com", "event_types": ["*"], "tenant_id": "ten_other"},
    ],
)
def test_bad_stream_requests_are_4xx_and_subscribe_nothing(api_a: LambdaApi, body: dict[str, Any]) -> None:
    before = _sns_subscriptions()
    reply = api_a.post("/event-streams", body=body)
    assert 400 <= reply.status < 500 and reply.error_code, reply.text
    assert _sns_subscriptions() == before
    assert api_a.get("/event-streams").json["items"] == []
    assert api_a.get("/event-streams/es_nope").status == 404
