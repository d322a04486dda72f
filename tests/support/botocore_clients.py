"""A callback on every botocore client the process creates, whoever creates it.

Every botocore client is made by ClientCreator.create_client: ours (shared.aws_clients), boto3's,
PynamoDB's, powertools' and the AWS Encryption SDK's (its KMS client). Wrapping that one method
before the code under test makes its clients is how a benchmark counts every request
(benchmarks.order_lifecycle_requests) and how a test sees every call a function makes
(tests.support.iam_recorder), without knowing where each library keeps its clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
