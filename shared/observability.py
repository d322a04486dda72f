"""The one place that creates the powertools Logger, Tracer and Metrics.

Service name, namespace and log level come from the standard POWERTOOLS_* variables
that template.yaml sets per function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# Patch only botocore: the default list imports requests, httpx and sqlite3 at cold start.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """The decorators every non-HTTP entry point wears: Lambda context in the logs (state cleared
    per invocation), an X-Ray segment without the response, metrics flushed as EMF."""
    wrapped = logger.inject_lambda_context(clear_state=True)(
        tracer.capture_lambda_handler(capture_response=False)(metrics.log_metrics(handler)))
    return wrapped  # type: ignore[no-any-return]


__all__ = ["MetricUnit", "instrumented", "logger", "metrics", "tracer"]
