"""Scheduled sweep of the events outbox: publishes any domain event its writer did not."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.events.relay import relay_unpublished
from shared.observability import instrumented, logger


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    report = relay_unpublished()
    if report.published or report.failed or report.quarantined:
        logger.info(
            "outbox relay run",
            extra={"published": report.published, "failed": report.failed, "quarantined": report.quarantined},
        )
    return {"relayed": report.published, "failed": report.failed, "quarantined": report.quarantined}


init_phase.complete()
