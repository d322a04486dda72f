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

from localcloud import moto_sqs_fifo
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


def test_a_fifo_long_poll_never_takes_the_next_message_of_a_group_in_flight(
    test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receive already waiting when another consumer took a group's message must not take the
    group's next one (localcloud.moto_sqs_fifo; moto decided once, when the wait began). The
    waiter is held inside its wait while the other consumer receives, so the order is forced."""
    sqs, name, url = _fifo_queue()
    waiting, go = threading.Event(), threading.Event()
    real_wait = moto_sqs_fifo.wait_for_change

    def held_wait(queue: Any, seen: int, timeout: float) -> None:
        if queue.name == name and not go.is_set():
            waiting.set()
            go.wait(timeout=10)
            return
        real_wait(queue, seen, timeout)

    monkeypatch.setattr(moto_sqs_fifo, "wait_for_change", held_wait)
    waiter, taken = _long_poll_in_thread(name, wait_seconds=1)
    assert waiting.wait(timeout=10)  # the waiter is inside its long poll, before anything was sent
    sqs.send_message(QueueUrl=url, MessageBody="submit", MessageGroupId="tenant#account")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # another consumer
    assert [m["Body"] for m in first] == ["submit"]
    sqs.send_message(QueueUrl=url, MessageBody="cancel", MessageGroupId="tenant#account")
    go.set()
    waiter.join(timeout=10)
    assert taken == [[]]  # the group was in flight for the whole wait
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    after = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in after] == ["cancel"]


@pytest.mark.parametrize(
    ("release", "delivered"),
    [
        ("delete", ["cancel"]),  # the group's in-flight message is done
        ("visibility", ["submit", "cancel"]),  # it is handed back, to be received again first
    ],
)
def test_a_fifo_long_poll_wakes_when_its_group_is_freed(
    test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch, release: str, delivered: list[str]
) -> None:
    """A long poll that found only a busy group's messages sleeps until the queue changes; the
    delete or visibility change that frees the group wakes it. Its fallback recheck and its wait
    are set far beyond the join's bound, so only the wake-up can deliver in time."""
    monkeypatch.setattr(moto_sqs_fifo, "RECHECK_S", 60.0)
    sqs, name, url = _fifo_queue()
    sqs.send_message(QueueUrl=url, MessageBody="submit", MessageGroupId="tenant#account")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody="cancel", MessageGroupId="tenant#account")
    waiting = threading.Event()
    real_wait = moto_sqs_fifo.wait_for_change

    def noted_wait(queue: Any, seen: int, timeout: float) -> None:
        if queue.name == name:
            waiting.set()
        real_wait(queue, seen, timeout)

    monkeypatch.setattr(moto_sqs_fifo, "wait_for_change", noted_wait)
    waiter, taken = _long_poll_in_thread(name, wait_seconds=20)
    assert waiting.wait(timeout=10)  # it saw only the busy group and went to sleep
    if release == "delete":
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    else:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    waiter.join(timeout=10)
    assert not waiter.is_alive(), f"the {release} did not wake the long poll"
    assert taken == [delivered]


def test_a_fifo_receive_takes_one_groups_messages_before_anothers(test_cloud: TestCloud) -> None:
    """Interleaved groups: a receive takes the oldest group's messages first, as SQS does, so
    the next consumer gets the other group (moto filled batches in arrival order: A1 B1)."""
    sqs, _, url = _fifo_queue()
    for body, group in (("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b"), ("a3", "a")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["a1", "a2"]
    assert [m["Body"] for m in second] == ["b1", "b2"]  # group a is in flight
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a3"]


def test_a_fifo_receive_decides_while_holding_the_queues_lock(
    test_cloud: TestCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's receive works from a snapshot of the groups in flight, so two receives side by side
    could both take one group (a send or delete meanwhile could be lost too): each receive holds
    the queue's lock while it decides. The receive is held at its first delivery and the lock
    probed from outside."""
    from moto.sqs.models import Message, sqs_backends

    sqs, name, url = _fifo_queue()
    sqs.send_message(QueueUrl=url, MessageBody="submit", MessageGroupId="tenant#account")
    queue = sqs_backends["123456789012"]["us-east-1"].get_queue(name)
    inside, go = threading.Event(), threading.Event()
    real_mark = Message.mark_received

    def held_mark(message: Any, *args: Any, **kwargs: Any) -> None:
        inside.set()
        go.wait(timeout=10)
        real_mark(message, *args, **kwargs)

    monkeypatch.setattr(Message, "mark_received", held_mark)
    receiver = threading.Thread(target=lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
    receiver.start()
    assert inside.wait(timeout=10)
    held = not queue._messages_lock.acquire(blocking=False)
    if not held:
        queue._messages_lock.release()
    go.set()
    receiver.join(timeout=10)
    assert held, "the receive decided without the queue's lock"


def _long_poll_in_thread(name: str, wait_seconds: int) -> tuple[threading.Thread, list[list[str]]]:
    """A long poll on moto's backend (where the patched receive runs) in a started thread; the
    bodies it receives land in the list."""
    from moto.sqs.models import sqs_backends

    backend = sqs_backends["123456789012"]["us-east-1"]
    taken: list[list[str]] = []
    waiter = threading.Thread(
        target=lambda: taken.append(
            [m.body for m in backend.receive_message(name, 10, wait_seconds, visibility_timeout=30)]
        )
    )
    waiter.start()
    return waiter, taken


def _fifo_queue() -> tuple[Any, str, str]:
    sqs = boto3.client("sqs")
    name = f"fifo-{secrets.token_hex(4)}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})[
        "QueueUrl"
    ]
    return sqs, name, url


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
