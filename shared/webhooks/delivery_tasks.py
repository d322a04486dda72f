"""Messages on the webhook-deliveries queue besides the EventBridge events themselves: one
`DeliveryTask` per (event, subscription) attempt, so each subscription's deliveries and retries
are separate messages and a slow or dead endpoint never holds up another's.

A retry is the same task with `attempt + 1`, sent again with DelaySeconds (SQS caps it at 900 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from botocore.config import Config
from botocore.session import get_session
from pydantic import BaseModel, ConfigDict, Field

from shared.config import get_settings
from shared.events.envelope import DomainEvent

MAX_DELAY_SECONDS = 900
_BATCH = 10


class DeliveryTask(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["webhook_delivery"] = "webhook_delivery"
    tenant_id: str
    subscription_id: str
    delivery_id: str
    event: DomainEvent
    attempt: int = Field(default=1, ge=1)
    first_attempt_at: str | None = None  # set from the second attempt on (RFC 3339)
    replay: bool = False

    def retry(self, first_attempt_at: str) -> DeliveryTask:
        return self.model_copy(update={"attempt": self.attempt + 1, "first_attempt_at": first_attempt_at})


class DeliveryQueueError(RuntimeError):
    """SQS did not accept every task; the caller's message is retried (duplicates are possible and
    harmless: consumers deduplicate on webhook-id)."""


@lru_cache(maxsize=1)
def _client() -> Any:
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    return get_session().create_client("sqs", region_name=get_settings().aws_region, config=config)


def send_tasks(tasks: Sequence[DeliveryTask], delay_seconds: int = 0) -> None:
    """Queue tasks (batches of 10), each after `delay_seconds` (0..900)."""
    delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds)))
    queue_url = get_settings().webhook_deliveries_queue_url
    for start in range(0, len(tasks), _BATCH):
        batch = tasks[start : start + _BATCH]
        entries = [
            {"Id": str(i), "MessageBody": task.model_dump_json(), "DelaySeconds": delay} for i, task in enumerate(batch)
        ]
        response = _client().send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise DeliveryQueueError(f"{len(response['Failed'])} delivery task(s) not queued")
