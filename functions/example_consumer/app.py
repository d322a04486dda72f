"""Example consumer (off by default: template parameter `ExampleConsumer=true`): receives pushes
from the `domain-events` SNS topic through API Gateway, verifies each with `consumer_kit.sns`,
confirms the subscription, and logs the events. The pattern to copy into your own service: it
uses the kit and nothing of the platform's domain code.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from consumer_kit.sns import SnsVerificationFailed, SnsVerifier, confirm_subscription
from shared.config import get_settings
from shared.observability import instrumented, logger

_TOPICS = frozenset(filter(None, get_settings().example_consumer_topic_arns.split(",")))
verifier = SnsVerifier(_TOPICS or {"(no topic configured: every message is refused)"})
confirm = confirm_subscription
seen: set[str] = set()  # a real consumer deduplicates in its own store; one instance's memory here


def _answer(status: int) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "text/plain"}, "body": ""}


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    try:
        message = verifier.verify(body)
    except SnsVerificationFailed as failure:
        logger.warning("SNS message refused", extra={"reason": failure.reason})
        return _answer(400)
    if message.is_subscription_confirmation:
        confirm(message)
        logger.info("SNS subscription confirmed", extra={"topic_arn": message.topic_arn})
    elif message.is_notification:
        envelope = message.event()
        if envelope["id"] not in seen:  # at least once: the same id may arrive again
            seen.add(envelope["id"])
            logger.info("domain event", extra={"event_id": envelope["id"], "type": envelope["type"],
                                               "tenant_id": envelope["tenant_id"]})  # fmt: skip
    return _answer(200)
