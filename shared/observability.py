"""The one place that creates the powertools Logger, Tracer and Metrics.

Service name, namespace and log level come from the standard POWERTOOLS_* variables
that template.yaml sets per function.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# Patch only botocore: the default list imports requests, httpx and sqlite3 at cold start.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
