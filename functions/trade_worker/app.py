"""Consumes trade-tasks.fifo: places and cancels orders, exactly once per intent.

Partial batch responses: a failed task is retried after the visibility timeout without
re-running its neighbours; later tasks of the same message group wait (FIFO order per account).
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import instrumented, logger
from shared.orders.execution import execute
from shared.orders.tasks import TradeTask


def handle_record(record: SQSRecord) -> str:
    task = TradeTask.model_validate_json(record.body)
    logger.thread_safe_append_keys(order_id=task.order_id, tenant_id=task.tenant_id, task_kind=task.kind)
    return execute(task)


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per invocation (it holds the batch's results) and log keys per thread: the local
    # cloud runs several invocations of this function at once (ScalingConfig), as separate
    # instances would on AWS; there, each has the process to itself and nothing changes.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    return dict(response)


init_phase.complete()
