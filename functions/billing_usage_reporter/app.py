"""Every 15 minutes: report settled usage windows to Stripe as billing meter events, each at most
once (see shared.billing.metering)."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing.metering import report_closed_windows
from shared.clock import utc_now
from shared.observability import instrumented, logger


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = report_closed_windows(utc_now())
    summary = {"reported": outcome.reported, "skipped": outcome.skipped}
    logger.info("usage reported", extra=summary)
    return summary


init_phase.complete()
