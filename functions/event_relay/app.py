"""Scheduled sweep of the events outbox: publishes any domain event its writer did not."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.events.publisher import relay_unpublished
from shared.observability import instrumented, logger


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    relayed = relay_unpublished()
    if relayed:
        logger.info("relayed outbox events", extra={"count": relayed})
    return {"relayed": relayed}
