"""Handlers for the instance-pool tests (tests/integration/test_localcloud_instances.py): each
shows one thing a Lambda handler can do to its instance."""

from __future__ import annotations

import os
import threading
from typing import Any


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Which process ran it, under which function name, with which event and environment."""
    return {
        "pid": os.getpid(),
        "function_name": context.function_name,
        "event": event,
        "marker": os.environ.get("INSTANCE_TEST_MARKER"),
    }


def held(event: dict[str, Any], context: Any) -> int:
    """Says it is running (its `ready` FIFO's reader sees EOF), then holds its instance until the
    test writes to its `go` FIFO: an invocation the test knows to be in flight, without sleeping."""
    with open(event["ready"], "w"):
        pass
    with open(event["go"]) as go:
        go.read()
    return os.getpid()


def refuse(event: dict[str, Any], context: Any) -> None:
    raise Exception("Unauthorized")  # what an API Gateway authorizer raises to answer 401


def crash(event: dict[str, Any], context: Any) -> None:
    os._exit(3)  # the instance dies mid-invocation (out of memory, a segfault, a timeout kill)


def not_json(event: dict[str, Any], context: Any) -> set[int]:
    return {1, 2}


def stall(event: dict[str, Any], context: Any) -> None:
    """Writes its process id to its `ready` FIFO, then never returns (a handler stuck on a call
    without a timeout)."""
    with open(event["ready"], "w") as ready:
        ready.write(str(os.getpid()))
    threading.Event().wait()
