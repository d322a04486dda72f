"""The one place that creates the powertools Logger, Tracer and Metrics.

Service name, namespace and log level come from the standard POWERTOOLS_* variables
that template.yaml sets per function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# Patch only botocore: the default list imports requests, httpx and sqlite3 at cold start.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()


def traced[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """An X-Ray segment around the handler (without the response), or nothing at all when
    tracing is off: the decorator costs a share of every warm call even when it records nothing."""
    if tracer.disabled:
        return handler
    return tracer.capture_lambda_handler(capture_response=False)(handler)  # type: ignore[no-any-return]


def instrumented[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """The decorators every non-HTTP entry point wears: Lambda context in the logs (state cleared
    per invocation), an X-Ray segment without the response, metrics flushed as EMF."""
    wrapped = logger.inject_lambda_context(clear_state=True)(traced(metrics.log_metrics(handler)))
    return wrapped  # type: ignore[return-value]


__all__ = ["MetricUnit", "instrumented", "logger", "metrics", "traced", "tracer"]
