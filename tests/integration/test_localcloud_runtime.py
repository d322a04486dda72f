"""The local cloud's SQS pollers and schedule clock behave like Lambda's, on moto's server."""

from __future__ import annotations

import gc
import json
import os
import secrets
import threading
from typing import Any

import boto3
import pytest

from localcloud.functions import FunctionSpec
from localcloud.pollers import SqsPoller
from localcloud.schedules import Schedule, ScheduleClock
from tests.support.aws import TestCloud


def _function(handler: Any) -> FunctionSpec:
    spec = FunctionSpec(
        "TestFunction", "test-fn", "unused", "lambda_handler", timeout=5, memory=128, environment={}, events={}
    )
    spec._handler = handler
    return spec


def _queues(max_receives: int = 2) -> tuple[Any, str, str, str]:
    sqs = boto3.client("sqs")
    name = f"poller-{secrets.token_hex(4)}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, queue, arn, dlq


def _poller(function: FunctionSpec, url: str, arn: str, partial: bool = True) -> SqsPoller:
    return SqsPoller(
        function,
        url,
        arn,
        batch_size=10,
        partial_batch=partial,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        region="us-east-1",
        stop=threading.Event(),
    )


def test_partial_batch_failures_are_redelivered_then_dead_lettered() -> None:
    sqs, queue, arn, dlq = _queues(max_receives=2)
    for body in ("ok-1", "poison", "ok-2"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        failures = []
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
            seen.append(record["body"])
            if record["body"] == "poison":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    poller = _poller(_function(handler), queue, arn)
    for _ in range(6):
        poller.poll_once(wait_seconds=0)
    assert sorted(seen) == ["ok-1", "ok-2", "poison", "poison"]  # the poison one twice, then the DLQ
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    assert sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []) == []


def test_a_raising_handler_leaves_the_whole_batch_for_redelivery() -> None:
    sqs, queue, arn, _ = _queues(max_receives=5)
    sqs.send_message(QueueUrl=queue, MessageBody="m")
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("crash mid-batch")

    poller = _poller(_function(handler), queue, arn)
    poller.poll_once(wait_seconds=0)
    poller.poll_once(wait_seconds=0)
    assert calls == [1, 1]
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []


def test_schedule_clock_fires_rate_schedules_sped_up() -> None:
    fired: list[Any] = []
    enough = threading.Event()  # both schedules fired twice: what the test waits for, not a duration

    def record(event: Any, context: Any) -> None:
        fired.append(event)
        custom = sum(1 for e in fired if e == {"job": "sweep"})
        if custom >= 2 and len(fired) - custom >= 2:
            enough.set()

    function = _function(record)
    stop = threading.Event()
    clock = ScheduleClock(
        [
            Schedule(function, "Tick", "rate(1 minute)", "Schedule", None),
            Schedule(function, "Custom", "rate(1 minute)", "ScheduleV2", '{"job": "sweep"}'),
        ],
        stop,
        speed=120,
    )
    clock.start()
    assert enough.wait(timeout=30), f"schedules fired {len(fired)} times in 30 s"
    stop.set()
    clock.join(5)
    assert clock.fired["Tick"] >= 2 and clock.fired["Custom"] >= 2
    assert any(e.get("detail-type") == "Scheduled Event" for e in fired)
    assert {"job": "sweep"} in fired


def test_the_pollers_of_a_fifo_queue_receive_one_at_a_time(test_cloud: TestCloud) -> None:
    """Several pollers of the trade queue (its source's MaximumConcurrency) share one receive lock.
    moto works out which message groups are in flight when a receive starts, not after its long
    poll: a poller already waiting when another took a group's message could take the group's
    next one too, running one account's tasks side by side (SQS and Lambda never do)."""
    from localcloud.pollers import sqs_pollers

    pollers = sqs_pollers(test_cloud.resolver, test_cloud.functions, test_cloud.endpoint, threading.Event())
    trade = [p for p in pollers if p.function.logical_id == "TradeWorkerFunction"]
    assert len(trade) > 1 and trade[0].queue_url.endswith(".fifo")
    assert all(p.concurrent and p.receive_lock is trade[0].receive_lock for p in trade)
    webhooks = [p for p in pollers if p.function.logical_id == "WebhookDispatcherFunction"]
    assert len(webhooks) > 1 and not webhooks[0].queue_url.endswith(".fifo")
    assert len({id(p.receive_lock) for p in webhooks}) == len(webhooks)  # a standard queue: no need


def test_a_handler_module_that_fails_to_load_leaves_the_collector_on(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler module turns the cyclic GC off while it loads (shared.init_phase) and back on at
    its end; one that raises before its end must not leave a long-lived local cloud without it."""
    module = f"broken_handler_{secrets.token_hex(4)}"
    (tmp_path / f"{module}.py").write_text("import gc\ngc.disable()\nraise RuntimeError('broken init')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = FunctionSpec(
        "Broken", "broken-fn", module, "lambda_handler", timeout=5, memory=128, environment={}, events={}
    )
    try:
        with pytest.raises(RuntimeError, match="broken init"):
            spec.handler()
        assert gc.isenabled()
    finally:
        gc.enable()
