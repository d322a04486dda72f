"""The template's functions, loaded in-process and invoked the way Lambda would invoke them."""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.template import Resolver, handler_module, resources_of_type

if TYPE_CHECKING:
    from localcloud.instances import InstancePool

Handler = Callable[[dict[str, Any], Any], Any]

# The template logical id of the function whose invocation is running in this context: one process
# hosts every function, so whatever watches their AWS calls (tests.support.iam_recorder: each
# function's calls against its own policies) needs to know whose call it is.
running_function: ContextVar[str | None] = ContextVar("running_function", default=None)


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that our code and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class FunctionSpec:
    logical_id: str
    physical_name: str
    module: str
    handler_name: str
    timeout: int
    memory: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]
    # Set: invocations run in the pool's instance processes (localcloud.instances), not this one.
    instances: InstancePool | None = None
    _handler: Handler | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> Handler:
        if self._handler is None:
            try:
                module = importlib.import_module(self.module)
            finally:
                gc.enable()  # a handler module that failed to load left its init phase open (shared.init_phase)
            self._handler = getattr(module, self.handler_name)
        return self._handler

    def invoke(self, event: dict[str, Any], *, exclusive: bool = True) -> Any:
        """One invocation at a time per function, like one warm Lambda instance; `exclusive=False`
        for functions whose template allows several batches in flight (their handlers keep no
        per-invocation state in module globals). With `instances`, the pool decides: one
        invocation per instance process, up to its size at once."""
        if self.instances is not None:
            return self.instances.invoke(self.logical_id, event)
        with self._lock:
            handler = self.handler()
        ensure_event_loop()
        token = running_function.set(self.logical_id)
        try:
            if not exclusive:
                return handler(event, FakeLambdaContext(self.physical_name, self.memory, self.timeout))
            with self._lock:
                context = FakeLambdaContext(self.physical_name, self.memory, self.timeout)
                return handler(event, context)
        finally:
            running_function.reset(token)


def ensure_event_loop() -> None:
    """Lambda calls handlers on its main thread, where Mangum finds an event loop; the local
    cloud calls them from worker threads, which need one of their own."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def apply_environment(functions: dict[str, FunctionSpec], keep: frozenset[str] = frozenset()) -> None:
    """One process hosts every function, so their variables are merged into os.environ (they
    agree on every name but the service name, which the local environment sets once). Names in
    `keep` are left as the caller set them."""
    for function in functions.values():
        for key, value in function.environment.items():
            if key != "POWERTOOLS_SERVICE_NAME" and key not in keep:
                os.environ[key] = value


def discover_functions(resolver: Resolver) -> dict[str, FunctionSpec]:
    template = resolver.template
    defaults = template.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        module, handler_name = handler_module(template, logical_id)
        env = dict(resolver.resolve(defaults.get("Environment", {}).get("Variables", {})))
        env.update(resolver.resolve(props.get("Environment", {}).get("Variables", {})))
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            physical_name=resolver.ref(logical_id),
            module=module,
            handler_name=handler_name,
            timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
            memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
            environment={k: str(v) for k, v in env.items()},
            events=props.get("Events", {}),
        )
    return specs
