"""Backtest jobs on the `backtest-jobs` queue: one message per backtest, a sweep's sent in batches.

A standard queue (not FIFO): jobs are independent, so Lambda may run as many at once as its
concurrency allows, which is the point of a sweep. A duplicate delivery is harmless: the worker
only runs a job still `queued` or `running`, and counts it on its sweep once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.aws_clients import aws_client
from shared.config import get_settings
from shared.errors import DependencyUnavailable

BATCH = 10  # SendMessageBatch's limit
SEND_ATTEMPTS = 3


class BacktestJob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    backtest_id: str


def _sqs() -> Any:
    return aws_client("sqs")


def enqueue(jobs: Sequence[BacktestJob]) -> list[BacktestJob]:
    """Send every job, ten per SendMessageBatch; entries a batch reports as failed are sent again
    (SEND_ATTEMPTS times). Returns the jobs that could not be sent (empty when all were)."""
    url = get_settings().backtest_jobs_queue_url
    client = _sqs()
    unsent: list[BacktestJob] = []
    for first in range(0, len(jobs), BATCH):
        pending = {str(i): job for i, job in enumerate(jobs[first : first + BATCH])}
        for _ in range(SEND_ATTEMPTS):
            entries = [{"Id": key, "MessageBody": job.model_dump_json()} for key, job in pending.items()]
            answer = client.send_message_batch(QueueUrl=url, Entries=entries)
            pending = {f["Id"]: pending[f["Id"]] for f in answer.get("Failed", [])}
            if not pending:
                break
        unsent.extend(pending.values())
    return unsent


def queue_refused(count: int) -> DependencyUnavailable:
    return DependencyUnavailable(
        f"the backtest queue refused {count} job(s); retry the request with a new Idempotency-Key",
        code="queue_unavailable",
    )
