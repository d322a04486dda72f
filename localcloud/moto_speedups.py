"""Per-request work moto's server repeats needlessly, removed for the local cloud and the tests.

A profile of the paper pipeline (py-spy, GIL holders only) put moto at 55% of the process's CPU
once transactions stopped copying tables. Each change here gives the same answer as moto, only
computed once or read directly:

* the dispatcher lists moto's package directory (os.listdir plus one isdir per entry) on every
  request to match the Host header: the list is computed once;
* every request builds the handler's method list with inspect.getmembers: once per class;
* EventBridge builds a new JSONPath parser (a yacc table) for each of 8 paths per target per
  event: parsed paths are kept;
* SQS ReceiveMessage checks each message's retention by computing all the queue's attributes,
  which counts every message in the queue (so it is O(backlog) per message): it reads the one
  attribute instead.
* SQS SendMessage(Batch) reads `ContentBasedDeduplication` from the queue's attributes three
  times per message, each time counting every message (O(backlog) per message: 1,000 bot ticks
  took minutes): within a send request it reads only the attribute asked for (bots trade by
  themselves, issue 8).
* SQS reads the clock for each message's visibility and delay by building two datetimes (now and
  the epoch) and subtracting them; a receive asks that of every message in the queue, twice: the
  clock is read with time.time(), the same POSIX milliseconds.

Dev-only, like localcloud.moto_transactions; installed by localcloud.cloud.start_aws_endpoint.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any


@functools.cache  # once per process: a second call would wrap the patched methods again
def install() -> None:
    """Apply every speed-up in this process (idempotent)."""
    import jsonpath_ng.ext
    import moto.backends
    import moto.core.responses
    from moto.sqs.models import Message, Queue, SQSBackend

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    responses: Any = moto.core.responses  # re-exports it without declaring so
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    jsonpath: Any = jsonpath_ng.ext
    jsonpath.parse = functools.lru_cache(maxsize=256)(jsonpath.parse)
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign, assignment]
    compute_attributes = vars(Queue)["attributes"].fget
    Queue.attributes = property(functools.partial(_queue_attributes, compute_attributes))  # type: ignore[assignment, method-assign]
    for name in ("send_message", "send_message_batch"):
        setattr(SQSBackend, name, _reading_attributes_lazily(getattr(SQSBackend, name)))
    Message.visible = property(_visible)  # type: ignore[method-assign, assignment]
    Message.delayed = property(_delayed)  # type: ignore[method-assign, assignment]


def _visible(message: Any) -> bool:
    """Message.visible: moto's comparison, against time.time() in milliseconds."""
    return bool(time.time() * 1000.0 > message.visible_at)


def _delayed(message: Any) -> bool:
    """Message.delayed: moto's comparison, against time.time() in milliseconds."""
    return bool(time.time() * 1000.0 < message.delayed_until)


_send_scope = threading.local()


def _queue_attributes(compute: Any, queue: Any) -> Any:
    """Queue.attributes; within a send request, a view that reads only the attributes asked for."""
    if getattr(_send_scope, "active", False):
        return _AttributeView(queue)
    return compute(queue)


class _AttributeView:
    """The `get` of Queue.attributes for one attribute, without counting the queue's messages."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def get(self, name: str, default: Any = None) -> Any:
        from moto.core.utils import camelcase_to_underscores

        value = getattr(self.queue, camelcase_to_underscores(name), default)
        return str(value).lower() if isinstance(value, bool) else value

    def __getitem__(self, name: str) -> Any:
        return self.get(name)


def _reading_attributes_lazily(send: Any) -> Any:
    @functools.wraps(send)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_send_scope, "active", False)
        _send_scope.active = True
        try:
            return send(*args, **kwargs)
        finally:
            _send_scope.active = outer

    return wrapper


def _retained(backend: Any, queue_name: str, message: Any) -> bool:
    """SQSBackend.is_message_valid_based_on_retention_period, reading only the one attribute."""
    from moto.core.utils import unix_time

    retention_period: int = backend.get_queue(queue_name).message_retention_period
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())
