"""Consumes the trade-tasks dead-letter queue: raises an alert event and settles the order so
it does not wait forever (never sent: REJECTED; possibly sent: UNKNOWN, for the reconciler)."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import instrumented
from shared.orders.dead_letters import settle_dead_lettered_task

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> str:
    receive_count = int(record.attributes.approximate_receive_count or 0)
    return settle_dead_lettered_task(record.body, receive_count)


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    return dict(response)


init_phase.complete()
