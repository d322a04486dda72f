"""Alternative shapes of the `GET /bots/{id}` route, to see what each framework choice costs, and
the floor the warm-overhead goal is measured against.

Import only after the test cloud has started. Every FastAPI variant goes through the same
`make_lambda_handler` wrapper and `shared.bots.service.read_bot` as the real route; the floor is
the same route on powertools' `APIGatewayRestResolver` with validation, under the same three
powertools decorators that `make_lambda_handler` puts on ours.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path as ResolverPath
from fastapi import Depends, Path

from shared import route_fast_path
from shared.auth.principal import Principal
from shared.bots import service
from shared.bots.responses import BotOut
from shared.idempotency import register_lambda_context
from shared.observability import logger, metrics, traced, tracer
from shared.web import LambdaHandler, create_app, make_lambda_handler, require_scope

BOT_ID_PATTERN = r"^bot_[0-9a-z]{26}$"
BotId = Annotated[str, Path(max_length=64, pattern=BOT_ID_PATTERN)]
Reader = Annotated[Principal, Depends(require_scope("read"))]
ResolverBotId = Annotated[str, ResolverPath(max_length=64, pattern=BOT_ID_PATTERN)]


def _fastapi_variants() -> dict[str, LambdaHandler]:
    sync_route_app = create_app("variant: plain def route")

    @sync_route_app.get("/bots/{bot_id}")
    def get_bot_sync(bot_id: BotId, caller: Reader) -> BotOut:
        return service.read_bot(caller, bot_id)

    route_fast_path.ENABLED = False
    try:
        generic_app = create_app("variant: FastAPI's generic request handler")

        @generic_app.get("/bots/{bot_id}")
        async def get_bot_generic(bot_id: BotId, caller: Reader) -> BotOut:
            return service.read_bot(caller, bot_id)
    finally:
        route_fast_path.ENABLED = True

    return {
        "as deployed, but FastAPI's generic handler (no fast path)": make_lambda_handler(
            generic_app, on_invoke=register_lambda_context
        ),
        "plain `def` route (runs in anyio's thread pool)": make_lambda_handler(
            sync_route_app, on_invoke=register_lambda_context
        ),
    }


def resolver_floor() -> LambdaHandler:
    """`GET /bots/{id}` on `APIGatewayRestResolver(enable_validation=True)`: the same path rule,
    the same scope check and service call, the same response model, the same decorators."""
    resolver = APIGatewayRestResolver(enable_validation=True)

    @resolver.get("/bots/<bot_id>")
    def get_bot(bot_id: ResolverBotId) -> BotOut:
        caller = Principal.from_authorizer_context(resolver.current_event.request_context.authorizer.raw_event)
        caller.require("read")
        return service.read_bot(caller, bot_id)

    @logger.inject_lambda_context(clear_state=True)
    @traced
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        register_lambda_context(context)
        return resolver.resolve(event, context)

    return handler


VARIANTS: dict[str, LambdaHandler] = _fastapi_variants()


def decorator_ladder() -> dict[str, LambdaHandler]:
    """A no-op handler bare, under each powertools decorator of `make_lambda_handler` alone (same
    arguments), and under all three stacked the same way: each decorator's own per-call cost,
    free of the noise of the app behind it."""

    def noop(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    stacked = logger.inject_lambda_context(clear_state=True)(traced(metrics.log_metrics(noop)))
    return {
        "no-op handler": noop,
        "logger.inject_lambda_context": logger.inject_lambda_context(clear_state=True)(noop),
        "traced (tracing disabled: not applied)": traced(noop),
        "tracer.capture_lambda_handler, were it applied": tracer.capture_lambda_handler(capture_response=False)(noop),
        "metrics.log_metrics (no metrics)": metrics.log_metrics(noop),
        "all three, stacked as in make_lambda_handler": stacked,
    }
