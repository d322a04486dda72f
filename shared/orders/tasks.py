"""Trade tasks on the `trade-tasks.fifo` queue.

One message group per (tenant, exchange account): one account's exchange calls run one at a
time, which keeps its nonces increasing and its rate limit respected. The deduplication id
names the step (submit attempt or cancel), so SQS drops a resend within five minutes; beyond
that, the intent row's state makes a repeated task a no-op.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.aws_clients import aws_client
from shared.config import get_settings

TaskKind = Literal["submit", "cancel"]


class TradeTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TaskKind
    tenant_id: str
    order_id: str
    account_id: str


def _sqs() -> Any:
    return aws_client("sqs")


def enqueue(task: TradeTask, *, attempt: str = "0") -> None:
    _sqs().send_message(
        QueueUrl=get_settings().trade_tasks_queue_url,
        MessageBody=task.model_dump_json(),
        MessageGroupId=f"{task.tenant_id}#{task.account_id}",
        MessageDeduplicationId=f"{task.kind}:{task.order_id}:{attempt}",
    )
