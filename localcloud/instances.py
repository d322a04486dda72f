"""Function instances in processes of their own, the way Lambda serves concurrent requests.

Lambda answers concurrent requests with separate instances: each one a process that runs one
invocation at a time. In one local process every handler would share one GIL, so two requests
at once take longer than one after the other (the convoy measured in benchmarks.paper_pipeline).
An `InstancePool` runs its functions in up to `size` child processes instead:

- an instance is started when an invocation finds none idle and the pool is not full (its first
  call of each function imports that function's module: a cold start);
- an invocation goes to the most recently used idle instance, as Lambda reuses warm ones, and
  waits for one when all are busy;
- a handler's exception comes back as `FunctionError` with the same message (API Gateway turns
  an authorizer's "Unauthorized" into a 401); an instance that dies mid-invocation fails that
  invocation as Lambda's `Runtime.ExitError` does and is replaced by the next one needed.

A child is `python -m localcloud.instances REQUESTS REPLIES LIFELINE` (three pipe ends): it reads
`[logical id, event]` from one pipe and writes `[outcome, payload, run seconds]` to the other, as
JSON (Lambda's events and results are JSON: a result that is not fails as its
`Runtime.MarshalError`). It inherits this process's environment (the local cloud sets it before
the first invocation). An invocation that outlives its function's timeout fails as
`Sandbox.Timedout` and its instance is killed. A child exits when its request pipe closes, and at
once when its lifeline does (the parent never writes to it): no instance outlives its parent,
however the parent ends, even one stuck in a handler.

`LOCALCLOUD_INSTANCE_SETUP=module:callable` in the environment makes each child call that before
its first invocation, and call what it returns (if anything) after each invocation: how a test
harness watches the functions' AWS calls in every instance (tests.support.localcloud_iam).
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.functions import FunctionSpec

ROOT = Path(__file__).resolve().parents[1]  # where `python -m localcloud.instances` resolves
SETUP_VARIABLE = "LOCALCLOUD_INSTANCE_SETUP"
EXIT_ERROR = "Runtime.ExitError"
TIMEOUT_ERROR = "Sandbox.Timedout"
TIMEOUT_GRACE_S = 0.5  # on top of the function's timeout: the pipes and JSON both ways


class FunctionError(Exception):
    """What an invocation in an instance raised (`kind`: the exception's type name)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# The FunctionSpec fields a child needs to load and invoke a function (not its runtime state).
_SPEC_FIELDS = ("logical_id", "physical_name", "module", "handler_name", "timeout", "memory")


class InstanceTimedOut(Exception):
    """The handler did not answer within its function's timeout."""


class _Instance:
    """One child process and the parent's ends of its three pipes: requests, replies and a
    lifeline the parent never writes to, whose end tells the child that its parent is gone."""

    def __init__(self, functions: dict[str, FunctionSpec]) -> None:
        pipes = [os.pipe() for _ in range(3)]  # (read, write) each: requests, replies, lifeline
        child_ends = (pipes[0][0], pipes[1][1], pipes[2][0])
        self.process: subprocess.Popen[bytes] | None = None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-u", "-m", "localcloud.instances", *map(str, child_ends)],
                cwd=ROOT,
                pass_fds=child_ends,
                # Not in the terminal's process group: Ctrl-C goes to the parent, which stops
                # its gateway first; an instance ends when its pipes close.
                start_new_session=True,
            )
        except BaseException:
            for fd in (pipes[0][1], pipes[1][0], pipes[2][1]):
                os.close(fd)
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        self.requests = Connection(pipes[0][1], readable=False)
        self.replies = Connection(pipes[1][0], writable=False)
        self.lifeline = pipes[2][1]
        try:
            specs = [{name: getattr(spec, name) for name in _SPEC_FIELDS} for spec in functions.values()]
            self.requests.send_bytes(json.dumps(specs).encode())
        except BaseException:
            self.kill()
            raise

    def invoke(self, logical_id: str, event: dict[str, Any], timeout: float) -> tuple[str, Any, float]:
        self.requests.send_bytes(json.dumps([logical_id, event]).encode())
        if not self.replies.poll(timeout):
            raise InstanceTimedOut
        outcome, payload, seconds = json.loads(self.replies.recv_bytes())
        return outcome, payload, seconds

    def stop(self, timeout: float = 5.0) -> None:
        """Close its request pipe, so it finishes and exits; kill it if it does not."""
        self.requests.close()
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        for connection in (self.requests, self.replies):
            connection.close()
        with contextlib.suppress(OSError):
            os.close(self.lifeline)


class InstancePool:
    """Up to `size` instance processes hosting the same functions (see the module docstring)."""

    def __init__(self, functions: Iterable[FunctionSpec], size: int) -> None:
        if size < 1:
            raise ValueError("an instance pool needs at least one instance")
        self.functions = {spec.logical_id: spec for spec in functions}
        self.size = size
        self.started = 0  # instances ever started (replacements included)
        # Called with (logical id, run seconds) after each invocation, as Lambda's REPORT line.
        self.on_report: Callable[[str, float], None] | None = None
        self._idle: list[_Instance] = []
        self._live = 0
        self._stopped = False
        self._condition = threading.Condition()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        if logical_id not in self.functions:
            raise KeyError(f"{logical_id} is not hosted by this pool")
        timeout = self.functions[logical_id].timeout + TIMEOUT_GRACE_S
        instance = self._acquire()
        try:
            outcome, payload, seconds = instance.invoke(logical_id, event, timeout)
        except InstanceTimedOut:
            self._discard(instance)
            raise FunctionError(TIMEOUT_ERROR, f"{logical_id} timed out after {timeout:.2f} seconds") from None
        except (EOFError, OSError) as exc:
            self._discard(instance)
            raise FunctionError(EXIT_ERROR, f"the instance running {logical_id} exited: {exc!r}") from exc
        except BaseException:
            self._discard(instance)  # interrupted mid-exchange: its pipe may hold half a message
            raise
        self._release(instance)
        if self.on_report is not None:
            self.on_report(logical_id, seconds)
        if outcome == "raised":
            kind, message = payload
            raise FunctionError(kind, message)
        return payload

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            idle, self._idle = self._idle, []
            self._condition.notify_all()
        for instance in idle:
            instance.stop()

    def _acquire(self) -> _Instance:
        with self._condition:
            while not self._idle and self._live >= self.size and not self._stopped:
                self._condition.wait()
            if self._stopped:
                raise FunctionError(EXIT_ERROR, "the instance pool is stopped")
            if self._idle:
                return self._idle.pop()  # the warmest one
            self._live += 1
            self.started += 1
        try:
            return _Instance(self.functions)
        except BaseException:
            with self._condition:
                self._live -= 1
                self._condition.notify()
            raise

    def _release(self, instance: _Instance) -> None:
        with self._condition:
            if not self._stopped:
                self._idle.append(instance)
                self._condition.notify()
                return
        instance.stop()

    def _discard(self, instance: _Instance) -> None:
        instance.kill()
        with self._condition:
            self._live -= 1
            self._condition.notify()


def serve(requests: Connection, replies: Connection, after: Callable[[], None] | None = None) -> None:
    """The child's loop: one invocation at a time until the parent closes the pipe."""
    from localcloud.functions import FunctionSpec

    hosted = json.loads(requests.recv_bytes())
    specs = {fields["logical_id"]: FunctionSpec(**fields, environment={}, events={}) for fields in hosted}
    while True:
        try:
            logical_id, event = json.loads(requests.recv_bytes())
        except EOFError:
            return
        started = time.perf_counter()
        try:
            outcome, payload = "returned", specs[logical_id].invoke(event)
        except Exception as exc:
            outcome, payload = "raised", [type(exc).__name__, str(exc)]
        seconds = time.perf_counter() - started
        try:
            reply = json.dumps([outcome, payload, seconds], default=_lambda_json)
        except (TypeError, ValueError) as exc:  # Lambda returns results as JSON too
            reply = json.dumps(["raised", ["Runtime.MarshalError", f"the result is not JSON: {exc}"], seconds])
        if after is not None:
            after()
        replies.send_bytes(reply.encode())


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, after its gateway
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    _exit_when_orphaned(int(argv[2]))
    after = _setup(os.environ.get(SETUP_VARIABLE, ""))
    with contextlib.suppress(BrokenPipeError, EOFError):  # the parent went away mid-reply
        serve(requests, replies, after)
    sys.stdout.flush()
    os._exit(0)  # nothing to tear down: the parent owns every resource


def _lambda_json(value: Any) -> Any:
    """What Lambda's Python runtime also writes as JSON: a Decimal, as a number."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _exit_when_orphaned(lifeline: int) -> None:
    """The parent never writes to the lifeline: its end means the parent is gone, even while a
    handler is stuck (the parent stops a live instance through its request pipe first)."""

    def watch() -> None:
        while os.read(lifeline, 4096):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _setup(spec: str) -> Callable[[], None] | None:
    """Call `module:callable` (see the module docstring); what it returns runs after each invocation."""
    if not spec:
        return None
    module, _, name = spec.partition(":")
    after: Callable[[], None] | None = getattr(importlib.import_module(module), name)()
    return after


if __name__ == "__main__":
    main(sys.argv[1:])
