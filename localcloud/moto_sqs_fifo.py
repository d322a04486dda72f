"""A FIFO queue's long poll, as SQS does it, for the local cloud and the tests.

moto's ReceiveMessage works out which message groups are in flight once, when the call starts,
and keeps that answer for its whole long poll. A receive already waiting when another consumer
took a group's message can then take the group's next one, so two of one account's trade tasks
would run side by side (the local cloud runs several trade-worker pollers, as Lambda scales a
FIFO source). SQS decides at delivery time. Here a FIFO long poll is a series of receives that do
not wait, each deciding afresh, with short pauses between them until a message arrives or the
wait is over. Standard queues are left to moto.

Dev-only, like localcloud.moto_transactions; installed by localcloud.cloud.start_aws_endpoint.
"""

from __future__ import annotations

import functools
import time
from typing import Any

RECHECK_S = 0.05  # a group freed by a delete is seen this soon (a send wakes the poll at once)

_installed = False


def install() -> None:
    """Patch moto's SQS backend in this process (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide switch, like the patch it guards
    if _installed:
        return
    _installed = True
    from moto.sqs.models import SQSBackend

    SQSBackend.receive_message = _deciding_at_delivery(SQSBackend.receive_message)  # type: ignore[method-assign]


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
        if not queue.fifo_queue or not wait_seconds_timeout:
            return receive(backend, queue_name, count, wait_seconds_timeout, visibility_timeout, names)
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            found = receive(backend, queue_name, count, 0, visibility_timeout, names)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            if queue.messages:  # only messages of groups in flight: look again shortly
                time.sleep(min(RECHECK_S, left))
            else:  # nothing visible: a send wakes this at once
                queue.wait_for_messages(min(RECHECK_S, left))

    return receive_message
