"""Every minute: reconcile every non-terminal order with its exchange (see
shared.orders.reconciliation)."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import instrumented, logger
from shared.orders.reconciliation import reconcile_open_orders


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = reconcile_open_orders()
    summary = {"outcomes": dict(report.outcomes), "accounts": len(report.accounts), "drift": report.drift}
    logger.info("reconciliation done", extra=summary)
    return summary


init_phase.complete()
