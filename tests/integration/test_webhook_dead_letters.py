"""The webhook-deliveries dead-letter queue's consumer (functions/webhook_dlq_alerter), through
real SQS-shaped batches against the test cloud, and the depth alarms on the event DLQs."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import pytest

from localcloud.functions import FakeLambdaContext
from localcloud.template import load_template, resources_of_type
from shared.clock import utc_now
from shared.events.envelope import DomainEvent
from shared.events.history import EventQuery, recent_events
from shared.ids import new_id
from shared.webhooks import deliveries
from shared.webhooks.deliveries import DeliveryStatus
from shared.webhooks.delivery_tasks import AttemptLog, DeliveryTask, task_for
from tests.support.aws import TestCloud
from tests.support.events import bot_event


@pytest.fixture(scope="module")
def alerter() -> Any:
    from functions.webhook_dlq_alerter.app import lambda_handler

    return lambda_handler


def _batch(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": secrets.token_hex(4),
                "receiptHandle": "r",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "5"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhook-deliveries-dlq",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def _run(alerter: Any, *bodies: str) -> dict[str, Any]:
    result: dict[str, Any] = alerter(_batch(*bodies), FakeLambdaContext("webhook-dlq-alerter", 512, 10))
    return result


def _bus_message(event: DomainEvent) -> str:
    return json.dumps(
        {"detail-type": event.type, "source": "cryptoorchestrator", "detail": event.model_dump(mode="json")}
    )


def _events(tenant_id: str, prefix: str) -> list[DomainEvent]:
    return recent_events(tenant_id, EventQuery(type_prefix=prefix), limit=20)[0]


def test_a_dead_lettered_delivery_is_marked_failed_and_announced(alerter: Any, test_cloud: TestCloud) -> None:
    tenant = new_id("ten")
    first = AttemptLog(at=utc_now() - timedelta(minutes=3), status_code=500, latency_ms=12.0, error="http_error")
    task = task_for(bot_event(tenant, bot_id=new_id("bot")), new_id("wh")).retry([first])
    deliveries.save(task, DeliveryStatus.RETRYING, [first])

    assert _run(alerter, task.model_dump_json()) == {"batchItemFailures": []}

    row = deliveries.get_delivery(tenant, task.subscription_id, task.delivery_id)
    assert row is not None and row.status == DeliveryStatus.FAILED
    assert [a.error for a in row.attempts()] == ["http_error", "dead_lettered"]
    [failed] = _events(tenant, "webhook.delivery_failed")
    assert failed.data["event_id"] == task.event.id and failed.data["subscription_id"] == task.subscription_id
    assert failed.data["last_error"] == "dead_lettered" and failed.data["attempts"] == 1
    assert failed.data["last_status_code"] == 500


def test_a_settled_delivery_is_left_as_it_is(alerter: Any, test_cloud: TestCloud) -> None:
    tenant = new_id("ten")
    task = task_for(bot_event(tenant, bot_id=new_id("bot")), new_id("wh"))
    done = AttemptLog(at=utc_now(), status_code=204, latency_ms=3.0, error=None)
    deliveries.save(task, DeliveryStatus.DELIVERED, [done])
    _run(alerter, task.model_dump_json())
    row = deliveries.get_delivery(tenant, task.subscription_id, task.delivery_id)
    assert row is not None and row.status == DeliveryStatus.DELIVERED
    assert _events(tenant, "webhook.") == []


def test_an_event_not_fanned_out_raises_an_alert_but_an_alert_never_does(alerter: Any, test_cloud: TestCloud) -> None:
    tenant = new_id("ten")
    lost = bot_event(tenant, bot_id=new_id("bot"))
    _run(alerter, _bus_message(lost))
    [alert] = _events(tenant, "alert.webhook_message_dead_lettered")
    assert alert.data == {
        "message_kind": "event",
        "event_id": lost.id,
        "event_type": "bot.started",
        "receive_count": 5,
        "resolution": "not fanned out to webhooks: replay it",
    }
    _run(alerter, _bus_message(alert))  # the alert itself dead-lettered: logged, no alert about it
    assert len(_events(tenant, "alert.webhook_message_dead_lettered")) == 1


def test_unreadable_messages_alert_under_the_platform_tenant(alerter: Any, test_cloud: TestCloud) -> None:
    before = len(_events("_platform", "alert.webhook_message_dead_lettered"))
    bad_bus = json.dumps({"detail-type": "bot.started", "detail": {"id": "evt_x"}})
    result = _run(alerter, "{not json", json.dumps({"kind": "webhook_delivery"}), "[1, 2]", bad_bus)
    assert result == {"batchItemFailures": []}
    alerts = _events("_platform", "alert.webhook_message_dead_lettered")
    assert len(alerts) - before == 4
    assert {a.data["resolution"] for a in alerts[: len(alerts) - before]} == {
        "unparseable message dropped",
        "unreadable bus event dropped",
    }


def test_a_failing_record_is_reported_alone(
    alerter: Any, test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_id("ten")
    task = task_for(bot_event(tenant, bot_id=new_id("bot")), new_id("wh"))
    real_save = deliveries.save

    def save_fails_once(t: DeliveryTask, status: DeliveryStatus, attempts: list[AttemptLog]) -> None:
        if t.delivery_id == task.delivery_id:
            raise RuntimeError("table unavailable")
        real_save(t, status, attempts)

    monkeypatch.setattr(deliveries, "save", save_fails_once)
    event = _batch(task.model_dump_json(), _bus_message(bot_event(tenant, bot_id=new_id("bot"))))
    result = alerter(event, FakeLambdaContext("webhook-dlq-alerter", 512, 10))
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_event_dead_letter_queues_have_depth_alarms() -> None:
    template = load_template()
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    watched: dict[str, dict[str, Any]] = {}
    for spec in alarms.values():
        props = spec["Properties"]
        [dimension] = props["Dimensions"]
        watched[dimension["Value"]["Fn::GetAtt"][0]] = props
    for queue in ("WebhookDeliveriesDeadLetterQueue", "EventTargetsDeadLetterQueue"):
        props = watched[queue]
        assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
        assert props["Dimensions"][0]["Name"] == "QueueName"
    consumer = template["Resources"]["WebhookDlqAlerterFunction"]["Properties"]["Events"]["DeadLetters"]["Properties"]
    assert consumer["Queue"] == {"Fn::GetAtt": ["WebhookDeliveriesDeadLetterQueue", "Arn"]}
    assert consumer["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = template["Resources"]["WebhookDeliveriesDeadLetterQueue"]["Properties"]
    assert dlq["VisibilityTimeout"] == 6 * template["Globals"]["Function"]["Timeout"]
