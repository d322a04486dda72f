"""A FIFO queue's long poll, as SQS does it, for the local cloud and the tests.

moto's ReceiveMessage works out which message groups are in flight once, when the call starts,
and keeps that answer for its whole long poll. A receive already waiting when another consumer
took a group's message can then take the group's next one, so two of one account's trade tasks
would run side by side (the local cloud runs several trade-worker pollers, as Lambda scales a
FIFO source). SQS decides at delivery time. Here a FIFO long poll is a series of receives that do
not wait, each deciding afresh. Between them it sleeps until the queue changes in a way that can
make a message deliverable: a send, a delete (which frees its group) or a visibility change, or
for at most RECHECK_S (a visibility timeout running out or a delay ending notifies nobody). It
used to look again every 50 ms instead: with a backlog behind four busy groups, those rescans of
every message were the largest share of moto's CPU in the paper pipeline.

moto also fills a batch in arrival order, so with several groups interleaved one receive takes
a message or two of every group and leaves nothing for the other consumers: Lambda's pollers
then run one account after another instead of side by side. SQS "returns as many messages with
the same message group ID as possible" and may add other groups' messages: here a receive takes
the oldest available group's messages first, then the next group's, each group in its order.

Standard queues are left to moto.

Dev-only, like localcloud.moto_transactions; installed by localcloud.cloud.start_aws_endpoint.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

_receiving = threading.local()  # set while a FIFO receive runs: Queue.messages lists group by group
RECHECK_S = 1.0  # what notifies nobody (a visibility timeout or a delay running out) is seen this soon


@functools.cache  # once per process: a second call would wrap the patched methods again
def install() -> None:
    """Patch moto's SQS backend in this process (idempotent)."""
    from moto.sqs.models import Queue, SQSBackend

    SQSBackend.receive_message = _deciding_at_delivery(SQSBackend.receive_message)  # type: ignore[method-assign]
    Queue.messages = property(functools.partial(_group_by_group, vars(Queue)["messages"].fget))  # type: ignore[method-assign, assignment]
    Queue.add_message = _announcing(Queue.add_message)  # type: ignore[method-assign]
    Queue.delete_message = _announcing(Queue.delete_message)  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = _announcing(  # type: ignore[method-assign]
        SQSBackend.change_message_visibility, lambda backend, queue_name, *args, **kwargs: backend.get_queue(queue_name)
    )


def changes(queue: Any) -> int:
    """How many changes `announce` has counted on this queue."""
    count: int = getattr(queue, "localcloud_changes", 0)
    return count


def announce(queue: Any) -> None:
    """Count a change to a FIFO queue and wake its long polls."""
    if not queue.fifo_queue:
        return
    with queue._messages_lock:
        queue.localcloud_changes = changes(queue) + 1
        queue._messages_lock.notify_all()


def wait_for_change(queue: Any, seen: int, timeout: float) -> None:
    """Until the queue has changed since `seen` (see `changes`), or `timeout` seconds."""
    with queue._messages_lock:
        queue._messages_lock.wait_for(lambda: changes(queue) != seen, timeout=timeout)


def _announcing(method: Any, queue_of: Callable[..., Any] = lambda queue, *args, **kwargs: queue) -> Any:
    """A change to a queue's messages, made under the queue's lock and then announced: moto's
    server is threaded, and its delete rebuilds the message list, which would drop a message a
    send appended meanwhile or hide the change from a receive in progress. `queue_of` finds the
    queue in the call's arguments (the queue itself, for Queue's methods)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        queue = queue_of(*args, **kwargs)
        with queue._messages_lock:
            try:
                return method(*args, **kwargs)
            finally:
                announce(queue)

    return wrapper


def _group_by_group(available: Any, queue: Any) -> Any:
    """Queue.messages (the visible, undelayed ones); during a FIFO receive, the groups not in
    flight first, each group's messages together, groups in the order of their oldest message
    (a stable sort: each group keeps its own order)."""
    messages = available(queue)
    if not (queue.fifo_queue and getattr(_receiving, "active", False)):
        return messages
    busy = queue.pending_message_groups
    rank: dict[Any, tuple[bool, int]] = {}
    for message in messages:
        if message.group_id not in rank:
            rank[message.group_id] = (message.group_id in busy, len(rank))
    return sorted(messages, key=lambda message: rank[message.group_id])


def _deciding_at_delivery(receive: Any) -> Any:
    @functools.wraps(receive)
    def receive_message(
        backend: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        queue = backend.get_queue(queue_name)
        names = message_attribute_names
        if not queue.fifo_queue:
            return receive(backend, queue_name, count, wait_seconds_timeout, visibility_timeout, names)
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            # One receive at a time per queue: moto's works from a snapshot of the groups in
            # flight, so two side by side could both take one group.
            with queue._messages_lock:
                seen = changes(queue)
                _receiving.active = True
                try:
                    found = receive(backend, queue_name, count, 0, visibility_timeout, names)
                finally:
                    _receiving.active = False
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            wait_for_change(queue, seen, min(RECHECK_S, left))

    return receive_message
