"""Consumes backtest-jobs: runs one backtest per message (a sweep is many messages, so Lambda runs
its combinations in parallel).

Partial batch responses: a job that raises is retried after the visibility timeout without
re-running its neighbours; a job that fails for a permanent reason is recorded as failed and
its message deleted.
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
import math
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.backtest.jobs import BacktestJob
from shared.backtest.runner import run_job
from shared.billing.metering import record_usage
from shared.clock import utc_now
from shared.observability import instrumented, logger

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> str:
    job = BacktestJob.model_validate_json(record.body)
    logger.append_keys(backtest_id=job.backtest_id, tenant_id=job.tenant_id)
    started = time.monotonic()
    outcome = run_job(job, receive_count=int(record.attributes.approximate_receive_count or 1))
    if outcome != "skipped":  # billing-stripe: compute minutes, counted once per backtest
        minutes = math.ceil((time.monotonic() - started) / 60)
        record_usage(job.tenant_id, "backtest_minutes", job.backtest_id, minutes, utc_now())
    logger.info("backtest job processed", extra={"outcome": outcome})
    return outcome


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    return dict(response)


init_phase.complete()
