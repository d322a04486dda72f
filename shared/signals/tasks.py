"""Signal tasks on the `signal-tasks.fifo` queue: one message group per bot, so one bot's signals
execute one at a time and in the order they were accepted (each reads the position the previous
one left). The deduplication id is the signal id."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.config import get_settings


class SignalTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    bot_id: str
    signal_id: str


@lru_cache(maxsize=1)
def _sqs() -> Any:
    from botocore.config import Config
    from botocore.session import get_session

    return get_session().create_client(
        "sqs",
        region_name=get_settings().aws_region,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3}),
    )


def enqueue(task: SignalTask) -> None:
    _sqs().send_message(
        QueueUrl=get_settings().signal_tasks_queue_url,
        MessageBody=task.model_dump_json(),
        MessageGroupId=task.bot_id,
        MessageDeduplicationId=task.signal_id,
    )
