"""Metrics with POWERTOOLS_METRICS_DISABLED: dropped per invocation, never printed."""

from __future__ import annotations

from typing import Any

import pytest

from shared.observability import MetricUnit, metrics, metrics_flushed


@metrics_flushed
def handler(event: dict[str, Any], context: Any) -> str:
    """An invocation that records one metric."""
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=1)
    return "ok"


def test_disabled_metrics_neither_pile_up_nor_print(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """powertools prints a metric set as EMF once one metric holds 100 values, disabled or not,
    and with metrics disabled it never clears the set: 150 invocations would print one."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setattr(metrics, "namespace", "Test")

    for _ in range(150):
        assert handler({}, None) == "ok"
    assert '"_aws"' not in capsys.readouterr().out
    assert not metrics.metric_set


def test_enabled_metrics_are_printed_at_the_end_of_each_invocation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    monkeypatch.setattr(metrics, "namespace", "Test")

    handler({}, None)
    handler({}, None)
    printed = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(printed) == 2
    assert not metrics.metric_set
