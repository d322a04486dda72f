"""Records, for each function of the template, the IAM permissions its AWS calls need.

A botocore `before-parameter-build` hook on every client (tests.support.botocore_clients) sees each
call with its parameters before it is sent, presigned URLs included; the function it belongs to is
localcloud.functions.running_function, set by FunctionSpec.invoke around each invocation. Calls
made outside an invocation (the local cloud's own provisioning, pollers and seeding: on AWS, Lambda
and CloudFormation make those) are not a function's and are not recorded.

The integration tier calls handlers directly, not through FunctionSpec.invoke: there
`FunctionsOnStack` names the function whose code (functions/<name>/) is on the calling stack.

Python's thread pools do not carry context variables into their workers, while a Lambda's threads
are all part of its invocation: `install` makes ThreadPoolExecutor.submit carry the caller's
context, so a function's calls from its own threads (the bot scheduler's) are recorded as its own.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import FrameType
from typing import Any

from localcloud.functions import FunctionSpec, running_function
from localcloud.template import ROOT
from tests.support.botocore_clients import call_site, on_every_new_client
from tests.support.iam_policy import Arns, FunctionPolicies, Permission, required_permissions

SITE_DIRECTORIES = frozenset({"shared", "functions", "tests"})
# Set (to the reason) while a test deliberately points a function at resources its policy does not
# cover, such as a missing event bus to see readiness fail: those calls are not checked.
unchecked: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_unchecked", default=None)


class IamRecorder:
    """The distinct (function, permission) pairs the functions' calls needed (each with where it
    was first needed, for the report), and how many calls were recorded."""

    def __init__(
        self, arns: Arns, fallback: Callable[[], str | None] | None = None, endpoint: str | None = None
    ) -> None:
        self.arns = arns
        self.fallback = fallback  # who is calling when no invocation is running (FunctionsOnStack)
        # Only clients of this endpoint (the session's moto): a test's own stubbed clients, made
        # while the session watches, are not the functions' calls.
        self.endpoint = endpoint
        self.needed: dict[tuple[str, Permission], str] = {}
        self.calls = 0
        self.functions: set[str] = set()
        self._lock = threading.Lock()

    def record(self, function: str, service: str, operation: str, params: dict[str, Any]) -> None:
        pairs = [(function, p) for p in required_permissions(service, operation, params, self.arns)]
        site = ""
        if any(pair not in self.needed for pair in pairs):  # the stack is walked once per new pair
            site = " < ".join(s for s in call_site(SITE_DIRECTORIES, 6) if not s.startswith("iam_recorder."))
        with self._lock:
            self.calls += 1
            self.functions.add(function)
            for pair in pairs:
                self.needed.setdefault(pair, site)

    def caller(self) -> str | None:
        """The function on whose behalf the current call is made, if any."""
        if unchecked.get() is not None:
            return None
        function = running_function.get()
        if function is None and self.fallback is not None:
            function = self.fallback()
        return function

    def hook(self, params: dict[str, Any], model: Any, context: dict[str, Any], **kwargs: Any) -> None:
        """botocore's before-parameter-build handler: `model` is the operation model."""
        if model.name == "CreateBucket" and context.get("is_presign_request"):
            return  # a presigned POST borrows CreateBucket's model; `watch` records it as the upload it is
        function = self.caller()
        if function is not None:
            self.record(function, model.service_model.signing_name, model.name, params)

    def watch(self, client: Any) -> None:
        if self.endpoint is not None and not str(client.meta.endpoint_url).startswith(self.endpoint):
            return
        client.meta.events.register("before-parameter-build", self.hook)
        if client.meta.service_model.service_name == "s3":
            self._watch_presigned_posts(client)

    def _watch_presigned_posts(self, client: Any) -> None:
        """A presigned POST is an upload signed with the function's credentials: S3 authorizes
        it as s3:PutObject on the key, when the form is posted (which no hook sees)."""
        presign = client.generate_presigned_post

        def generate_presigned_post(Bucket: str, Key: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N803 - boto's
            function = self.caller()
            if function is not None:
                self.record(function, "s3", "PutObject", {"Bucket": Bucket, "Key": Key})
            return presign(Bucket, Key, *args, **kwargs)

        client.generate_presigned_post = generate_presigned_post

    def denied(self, policies: FunctionPolicies) -> list[str]:
        """One line per (function, permission) the function's policy does not allow, with where
        in the code it was needed."""
        with self._lock:
            needed = dict(self.needed)
        return [f"{function}: {p}  (from {needed[function, p]})" for function, p in policies.denied(needed)]


class FunctionsOnStack:
    """The template function whose handler package (its CodeUri, functions/<name>/) has a frame on
    the calling thread's stack, if any: a test calling `lambda_handler` directly is that function
    calling AWS."""

    def __init__(self, functions: dict[str, FunctionSpec]) -> None:
        self.root = str(ROOT / "functions") + os.sep
        self.by_directory = {
            str(ROOT.joinpath(*spec.module.split(".")[:-1])): logical_id for logical_id, spec in functions.items()
        }

    def __call__(self) -> str | None:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            path = frame.f_code.co_filename
            if path.startswith(self.root):
                found = self.by_directory.get(os.path.dirname(path))
                if found is not None:
                    return found
            frame = frame.f_back
        return None


def _submit_in_callers_context(original: Callable[..., Future[Any]]) -> Callable[..., Future[Any]]:
    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return original(self, contextvars.copy_context().run, fn, *args, **kwargs)

    return submit


def install(recorder: IamRecorder) -> Callable[[], None]:
    """Watch every client created from now on; returns what undoes it."""
    original_submit = ThreadPoolExecutor.submit
    ThreadPoolExecutor.submit = _submit_in_callers_context(original_submit)  # type: ignore[method-assign]
    undo_clients = on_every_new_client(recorder.watch)

    def undo() -> None:
        undo_clients()
        ThreadPoolExecutor.submit = original_submit  # type: ignore[method-assign]

    return undo
