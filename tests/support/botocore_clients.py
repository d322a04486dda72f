"""A callback on every botocore client the process creates, whoever creates it.

Every botocore client is made by ClientCreator.create_client: ours (shared.aws_clients), boto3's,
PynamoDB's, powertools' and the AWS Encryption SDK's (its KMS client). Wrapping that one method
before the code under test makes its clients is how a benchmark counts every request
(benchmarks.order_lifecycle_requests) and how a test sees every call a function makes
(tests.support.iam_recorder), without knowing where each library keeps its clients.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def on_every_new_client(callback: Callable[[Any], None]) -> Callable[[], None]:
    """Call `callback(client)` on each client created from now on; returns what undoes it."""
    from botocore.client import ClientCreator

    original = ClientCreator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        callback(client)
        return client

    ClientCreator.create_client = create_client

    def undo() -> None:
        ClientCreator.create_client = original

    return undo


def call_site(directories: frozenset[str], depth: int = 5) -> tuple[str, ...]:
    """Where a call comes from in our own code: the innermost `depth` frames (module.qualname,
    innermost first) of files under these top-level directories of the repository."""
    frame: FrameType | None = sys._getframe(1)
    root = str(ROOT)
    out: list[str] = []
    while frame is not None and len(out) < depth:
        path = frame.f_code.co_filename
        if path.startswith(root):
            relative = Path(path).relative_to(ROOT)
            if relative.parts and relative.parts[0] in directories:
                name = f"{relative.stem}.{frame.f_code.co_qualname}"
                if not out or out[-1] != name:
                    out.append(name)
        frame = frame.f_back
    return tuple(out)
