"""The one place that creates the powertools Logger, Tracer and Metrics.

Service name, namespace and log level come from the standard POWERTOOLS_* variables
that template.yaml sets per function.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
# Patch only botocore: the default list imports requests, httpx and sqlite3 at cold start.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()
# Most invocations record no metric; powertools warns about each one that does not.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def traced[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """An X-Ray segment around the handler (without the response), or nothing at all when
    tracing is off: the decorator costs a share of every warm call even when it records nothing."""
    if tracer.disabled:
        return handler
    return tracer.capture_lambda_handler(capture_response=False)(handler)  # type: ignore[no-any-return]


def metrics_flushed[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """The invocation's metrics printed as EMF at its end (powertools' log_metrics), or, with
    POWERTOOLS_METRICS_DISABLED (tests, the local cloud), dropped: powertools then neither prints
    nor clears them, so they pile up across invocations and come out as EMF all the same once
    one metric holds 100 values."""
    flushing = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def flushed(*args: Any, **kwargs: Any) -> Any:
        try:
            return flushing(*args, **kwargs)
        finally:
            if is_metrics_disabled():
                metrics.clear_metrics()

    return flushed  # type: ignore[return-value]


def instrumented[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """The decorators every non-HTTP entry point wears: Lambda context in the logs (state cleared
    per invocation), an X-Ray segment without the response, metrics flushed as EMF."""
    wrapped: Handler = logger.inject_lambda_context(clear_state=True)(traced(metrics_flushed(handler)))
    return wrapped


__all__ = ["MetricUnit", "instrumented", "logger", "metrics", "metrics_flushed", "traced", "tracer"]
