"""Hourly: tenants whose failed payment outlasted the grace period drop to the free plan
(see shared.billing.grace)."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing.grace import end_expired_grace_periods
from shared.clock import utc_now
from shared.observability import instrumented, logger


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    downgraded = end_expired_grace_periods(utc_now())
    logger.info("grace periods checked", extra={"downgraded": downgraded})
    return {"downgraded": downgraded}


init_phase.complete()
