"""Signal tasks on the `signal-tasks.fifo` queue: one message group per bot, so one bot's signals
execute one at a time and in the order they were accepted (each reads the position the previous
one left). The deduplication id is the signal id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.aws_clients import aws_client
from shared.config import get_settings


class SignalTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    bot_id: str
    signal_id: str


def _sqs() -> Any:
    return aws_client("sqs")


def enqueue(task: SignalTask) -> None:
    _sqs().send_message(
        QueueUrl=get_settings().signal_tasks_queue_url,
        MessageBody=task.model_dump_json(),
        MessageGroupId=task.bot_id,
        MessageDeduplicationId=task.signal_id,
    )
