"""The local cloud's instance pool (localcloud.instances) serves invocations the way Lambda's
instances do: one at a time per process, side by side across processes, warm ones reused,
handler errors and crashes reported as Lambda reports them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.functions import FunctionSpec
from localcloud.instances import EXIT_ERROR, ROOT, TIMEOUT_ERROR, FunctionError, InstancePool
from tests.support.processes import process_ends

HANDLERS = "tests.support.instance_handlers"


def _function(name: str, timeout: int = 30) -> FunctionSpec:
    """A function whose handler is `name` in tests.support.instance_handlers."""
    logical_id = name.title().replace("_", "")
    return FunctionSpec(logical_id, f"{name}-fn", HANDLERS, name, timeout, 128, environment={}, events={})


def _functions() -> list[FunctionSpec]:
    return [_function(name) for name in ("echo", "held", "refuse", "crash", "not_json")] + [_function("stall", 1)]


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[InstancePool]:
    monkeypatch.setenv("INSTANCE_TEST_MARKER", "inherited")
    started = InstancePool(_functions(), size=2)
    yield started
    started.stop()


class HeldInvocation:
    """A `held` invocation in a thread, known to be running once `start` returns."""

    def __init__(self, pool: InstancePool, directory: Path) -> None:
        self.ready, self.go = directory / "ready", directory / "go"
        os.mkfifo(self.ready)
        os.mkfifo(self.go)
        self.result: list[Any] = []
        self.thread = threading.Thread(target=self._invoke, args=(pool,))

    def _invoke(self, pool: InstancePool) -> None:
        try:
            self.result.append(pool.invoke("Held", {"ready": str(self.ready), "go": str(self.go)}))
        except Exception as exc:
            self.result.append(exc)
            with contextlib.suppress(OSError):  # `start` waits on the FIFO: release it
                os.close(os.open(self.ready, os.O_WRONLY | os.O_NONBLOCK))

    def start(self) -> None:
        self.thread.start()
        with open(self.ready) as ready:  # opens once the handler opened it: it is running
            ready.read()
        assert not self.result, f"the held invocation failed: {self.result}"

    def release(self) -> int:
        with open(self.go, "w") as go:
            go.write("go")
        self.thread.join(timeout=30)
        pid: int = self.result[0]
        return pid


def test_an_invocation_runs_in_a_child_with_the_parents_environment(pool: InstancePool) -> None:
    answer = pool.invoke("Echo", {"path": "/health"})
    assert answer["pid"] != os.getpid()
    assert answer["function_name"] == "echo-fn"
    assert answer["event"] == {"path": "/health"}
    assert answer["marker"] == "inherited"


def test_a_warm_instance_is_reused(pool: InstancePool) -> None:
    first = pool.invoke("Echo", {})["pid"]
    second = pool.invoke("Echo", {})["pid"]
    assert first == second
    assert pool.started == 1


def test_concurrent_invocations_run_side_by_side_in_separate_instances(pool: InstancePool, tmp_path: Path) -> None:
    held = HeldInvocation(pool, tmp_path)
    held.start()
    meanwhile = pool.invoke("Echo", {})["pid"]  # the first instance is busy
    assert held.release() != meanwhile
    assert pool.started == 2


def test_a_full_pool_waits_for_an_instance(tmp_path: Path) -> None:
    pool = InstancePool(_functions(), size=1)
    try:
        held = HeldInvocation(pool, tmp_path)
        held.start()
        blocked = threading.Event()
        real_wait = pool._condition.wait

        def noted_wait(timeout: float | None = None) -> bool:
            blocked.set()
            return real_wait(timeout)

        pool._condition.wait = noted_wait  # type: ignore[method-assign]
        waiting: list[int] = []
        waiter = threading.Thread(target=lambda: waiting.append(pool.invoke("Echo", {})["pid"]))
        waiter.start()
        assert blocked.wait(timeout=30)  # the waiter found the one instance busy and waits for it
        held_pid = held.release()
        waiter.join(timeout=30)
        assert waiting == [held_pid]  # served by the one instance, after the held invocation
        assert pool.started == 1
    finally:
        pool.stop()


def test_a_handlers_exception_comes_back_with_its_message(pool: InstancePool) -> None:
    """The gateway answers 401 when the authorizer raises exactly "Unauthorized"."""
    before = pool.invoke("Echo", {})["pid"]
    with pytest.raises(FunctionError) as raised:
        pool.invoke("Refuse", {})
    assert str(raised.value) == "Unauthorized"
    assert raised.value.kind == "Exception"
    assert pool.invoke("Echo", {})["pid"] == before  # a handler's error leaves its instance warm


def test_an_instance_that_dies_fails_its_invocation_and_is_replaced(pool: InstancePool) -> None:
    before = pool.invoke("Echo", {})["pid"]
    with pytest.raises(FunctionError) as raised:
        pool.invoke("Crash", {})
    assert raised.value.kind == EXIT_ERROR
    assert process_ends(before, timeout=10)
    after = pool.invoke("Echo", {})["pid"]
    assert after != before
    assert pool.started == 2


def test_a_result_that_is_not_json_is_a_marshal_error(pool: InstancePool) -> None:
    with pytest.raises(FunctionError, match="not JSON") as raised:
        pool.invoke("NotJson", {})
    assert raised.value.kind == "Runtime.MarshalError"


def test_stopping_the_pool_ends_its_instances(tmp_path: Path) -> None:
    pool = InstancePool(_functions(), size=2)
    pid = pool.invoke("Echo", {})["pid"]
    pool.stop()
    assert process_ends(pid, timeout=10)
    with pytest.raises(FunctionError, match="stopped"):
        pool.invoke("Echo", {})


def test_a_function_the_pool_does_not_host_is_refused(pool: InstancePool) -> None:
    with pytest.raises(KeyError):
        pool.invoke("Missing", {})


def test_an_invocation_past_its_timeout_fails_and_its_instance_is_killed(pool: InstancePool, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    failed: list[FunctionError] = []

    def invoke() -> None:
        with pytest.raises(FunctionError) as raised:
            pool.invoke("Stall", {"ready": str(ready)})
        failed.append(raised.value)

    caller = threading.Thread(target=invoke)
    caller.start()
    with open(ready) as fifo:
        stuck = int(fifo.read())
    caller.join(timeout=30)
    assert [error.kind for error in failed] == [TIMEOUT_ERROR]
    assert process_ends(stuck, timeout=10)
    assert pool.invoke("Echo", {})["pid"] != stuck


def test_an_instance_stuck_in_a_handler_ends_with_its_parent(tmp_path: Path) -> None:
    """The parent dies (no stop, no kill of its children) while a handler is stuck: the instance's
    lifeline ends and it exits, stuck or not."""
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    script = f"""
import os, threading
from localcloud.functions import FunctionSpec
from localcloud.instances import InstancePool
stall = FunctionSpec("Stall", "stall-fn", "{HANDLERS}", "stall", 600, 128, environment={{}}, events={{}})
pool = InstancePool([stall], size=1)
threading.Thread(target=pool.invoke, args=("Stall", {{"ready": "{ready}"}}), daemon=True).start()
with open("{ready}") as fifo:
    print(fifo.read(), flush=True)
os._exit(0)
"""
    parent = subprocess.run(
        [sys.executable, "-c", script], check=True, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    stuck = int(parent.stdout.strip())
    assert process_ends(stuck, timeout=10)
