"""Consumes signal-tasks.fifo: carries out accepted signals as order intents (one bot at a time).

Partial batch responses: a failed signal is retried after the visibility timeout; later signals of
the same bot wait (FIFO order per bot), so each reads the position the previous one left.
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing.metering import record_usage
from shared.clock import utc_now
from shared.observability import instrumented, logger
from shared.signals.execution import execute_signal
from shared.signals.tasks import SignalTask

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def handle_record(record: SQSRecord) -> str:
    task = SignalTask.model_validate_json(record.body)
    logger.append_keys(signal_id=task.signal_id, bot_id=task.bot_id, tenant_id=task.tenant_id)
    # billing-stripe: usage metering, once per signal however often the task is delivered
    record_usage(task.tenant_id, "signals_received", task.signal_id, 1, utc_now())
    return execute_signal(task)


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    return dict(response)


init_phase.complete()
