"""Messages on the webhook-deliveries queue besides the EventBridge events themselves: one
`DeliveryTask` per (event, subscription) attempt, so each subscription's deliveries and retries
are separate messages and a slow or dead endpoint never holds up another's.

A retry is the same task with `attempt + 1`, sent again with DelaySeconds (SQS caps it at 900 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.aws_clients import aws_client
from shared.config import get_settings
from shared.events.envelope import DomainEvent
from shared.ids import new_id

MAX_DELAY_SECONDS = 900
_BATCH = 10


class AttemptLog(BaseModel):
    """One attempt: when, the answer's status, how long, an error class, when the next is due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    status_code: int | None
    latency_ms: float
    error: str | None  # `timeout`, `http_error`, `private`, ...: a class, never a secret or an address
    next_retry_at: AwareDatetime | None = None


class DeliveryTask(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["webhook_delivery"] = "webhook_delivery"
    tenant_id: str
    subscription_id: str
    delivery_id: str
    event: DomainEvent
    replay: bool = False
    attempts: list[AttemptLog] = Field(default_factory=list)  # the earlier attempts, oldest first

    @property
    def attempt(self) -> int:
        """The number of the attempt this message asks for (1-based)."""
        return len(self.attempts) + 1

    def retry(self, attempts: list[AttemptLog]) -> DeliveryTask:
        return self.model_copy(update={"attempts": attempts})


class DeliveryQueueError(RuntimeError):
    """SQS did not accept every task; the caller's message is retried (duplicates are possible and
    harmless: consumers deduplicate on webhook-id)."""


def _client() -> Any:
    return aws_client("sqs")


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


def task_for(event: DomainEvent, subscription_id: str, *, replay: bool = False) -> DeliveryTask:
    """One delivery of `event` to one subscription (a fresh delivery id; the event id stays)."""
    return DeliveryTask(
        tenant_id=event.tenant_id,
        subscription_id=subscription_id,
        delivery_id=new_id("dlv"),
        event=event,
        replay=replay,
    )
