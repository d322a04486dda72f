"""Consumes bot-ticks.fifo: one strategy decision per bot per bar (see shared.bots.tick).

Partial batch responses: a failed tick is retried after the visibility timeout without re-running
its neighbours; later ticks of the same bot wait (FIFO order per bot).
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.bots.schedule import BotTick
from shared.bots.tick import run_tick
from shared.observability import instrumented, logger

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def handle_record(record: SQSRecord) -> str:
    tick = BotTick.model_validate_json(record.body)
    logger.append_keys(bot_id=tick.bot_id, tenant_id=tick.tenant_id, bar_close_ms=tick.close_ms)
    return run_tick(tick)


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    return dict(response)


init_phase.complete()
