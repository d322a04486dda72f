"""Readiness: can this deployment reach what it depends on? Each check reports on its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.aws_clients import aws_client
from shared.config import get_settings

_QUICK = {"connect_timeout": 1, "read_timeout": 2, "max_attempts": 1}  # a probe answers fast or fails


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {
            "ok": False,
            "error": type(exc).__name__,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _dynamodb() -> None:
    settings = get_settings()
    client = aws_client("dynamodb", **_QUICK)
    for table in (settings.tenants_table, settings.bots_table, settings.idempotency_table):
        client.describe_table(TableName=table)


def _eventbridge() -> None:
    settings = get_settings()
    client = aws_client("events", **_QUICK)
    client.describe_event_bus(Name=settings.event_bus_name)


def readiness() -> tuple[bool, dict[str, dict[str, Any]]]:
    checks = {"dynamodb": _timed(_dynamodb), "eventbridge": _timed(_eventbridge)}
    return all(c["ok"] for c in checks.values()), checks
