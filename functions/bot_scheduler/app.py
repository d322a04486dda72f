"""Every minute: tick every due running bot once per bar (see shared.bots.schedule)."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.bots.schedule import run_scheduler
from shared.observability import instrumented, logger


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run_scheduler(int(time.time() * 1000))
    summary = {
        "due": report.due,
        "enqueued": report.enqueued,
        "advanced": report.advanced,
        "send_failures": report.send_failures,
        "markets": len(report.markets),
        "fetches": report.fetches,
    }
    logger.info("bot ticks scheduled", extra=summary)
    return summary


init_phase.complete()
