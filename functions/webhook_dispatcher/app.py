"""Consumes webhook-deliveries: fans bus events out to one delivery task per subscription and
makes each delivery attempt (see shared.webhooks.dispatcher).

The records of a batch are handled concurrently (each delivery is network-bound, up to 10 s), so
one slow endpoint in a batch does not hold up the other nine; partial batch responses retry only
the records that raised.
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
import asyncio
from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import MetricUnit, instrumented, metrics
from shared.webhooks.dispatcher import Dispatcher

dispatcher = Dispatcher()


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()

    async def handle_record(record: SQSRecord) -> str:
        outcome = await asyncio.to_thread(dispatcher.handle_message, record.body)
        if isinstance(outcome, int):
            outcomes["fanned_out"] += outcome
        else:
            outcomes[outcome.value] += 1
        return str(outcome)

    # A processor per invocation: it holds the batch's results, and the local cloud may run
    # several invocations of this function at once (ScalingConfig), as separate instances would.
    processor = AsyncBatchProcessor(event_type=EventType.SQS)
    response = async_process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    for outcome, count in outcomes.items():  # one value per metric per batch, not per delivery
        metrics.add_metric(name=f"Webhook_{outcome}", unit=MetricUnit.Count, value=count)
    return dict(response)


init_phase.complete()
