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

Dev-only, like localcloud.moto_transactions; installed by localcloud.cloud.start_aws_endpoint.
"""

from __future__ import annotations

import functools
from typing import Any

_installed = False


def install() -> None:
    """Apply every speed-up in this process (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide switch, like the patches it guards
    if _installed:
        return
    _installed = True

    import jsonpath_ng.ext
    import moto.backends
    import moto.core.responses
    from moto.sqs.models import SQSBackend

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    responses: Any = moto.core.responses  # re-exports it without declaring so
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    jsonpath: Any = jsonpath_ng.ext
    jsonpath.parse = functools.lru_cache(maxsize=256)(jsonpath.parse)
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign, assignment]


def _retained(backend: Any, queue_name: str, message: Any) -> bool:
    """SQSBackend.is_message_valid_based_on_retention_period, reading only the one attribute."""
    from moto.core.utils import unix_time

    retention_period: int = backend.get_queue(queue_name).message_retention_period
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())
