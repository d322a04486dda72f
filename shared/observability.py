"""The one place that creates the powertools Logger, Tracer and Metrics.

Service name, namespace and log level come from the standard POWERTOOLS_* variables
that template.yaml sets per function, so importing this module is cheap and side-effect free.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
