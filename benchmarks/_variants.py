"""Alternative shapes of the `GET /bots/{id}` route, to see what each framework choice costs.

Import only after the test cloud has started (this module imports `shared` at the top, and the
models read table names from the environment when they are defined). Every variant goes through
the same `make_lambda_handler` wrapper and `shared.bots.service.read_bot` as the real route.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.logging import correlation_paths
from fastapi import Depends, Path, Request, Response

from shared.auth.principal import Principal
from shared.bots import service
from shared.bots.schemas import BotOut
from shared.idempotency import register_lambda_context
from shared.observability import logger, metrics, tracer
from shared.web import LambdaHandler, create_app, make_lambda_handler, principal, require_scope

BotId = Annotated[str, Path(max_length=64, pattern=r"^bot_[0-9a-z]{26}$")]
Reader = Annotated[Principal, Depends(require_scope("read"))]


async def _reader_async(request: Request) -> Principal:
    """Same check as `require_scope("read")`, but async: FastAPI runs sync dependencies in a
    worker thread (anyio), so this shows what that thread hop costs per dependency."""
    caller = principal(request)
    caller.require("read")
    return caller


ReaderAsync = Annotated[Principal, Depends(_reader_async)]

sync_route_app = create_app("variant: plain def route")
async_dependency_app = create_app("variant: async dependency")
raw_response_app = create_app("variant: async dependency, no response_model")


@sync_route_app.get("/bots/{bot_id}")
def get_bot_sync(bot_id: BotId, caller: Reader) -> BotOut:
    return service.read_bot(caller, bot_id)


@async_dependency_app.get("/bots/{bot_id}")
async def get_bot_async_dependency(bot_id: BotId, caller: ReaderAsync) -> BotOut:
    return service.read_bot(caller, bot_id)


@raw_response_app.get("/bots/{bot_id}", response_model=None)
async def get_bot_raw(bot_id: BotId, caller: ReaderAsync) -> Response:
    """Serializes once with pydantic instead of FastAPI's validate-then-serialize of the return."""
    body = service.read_bot(caller, bot_id).model_dump_json()
    return Response(content=body, media_type="application/json")


VARIANTS: dict[str, LambdaHandler] = {
    "plain `def` route (runs in anyio's thread pool)": make_lambda_handler(
        sync_route_app, on_invoke=register_lambda_context
    ),
    "async route + async scope dependency": make_lambda_handler(
        async_dependency_app, on_invoke=register_lambda_context
    ),
    "  ... + Response(model_dump_json), no response_model": make_lambda_handler(
        raw_response_app, on_invoke=register_lambda_context
    ),
}


def decorator_ladder() -> dict[str, LambdaHandler]:
    """A no-op handler bare, under each powertools decorator of `make_lambda_handler` alone (same
    arguments), and under all three stacked the same way: each decorator's own per-call cost,
    free of the noise of the app behind it."""

    def noop(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    stacked = logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)(
        tracer.capture_lambda_handler(capture_response=False)(metrics.log_metrics(noop))
    )
    return {
        "no-op handler": noop,
        "logger.inject_lambda_context": logger.inject_lambda_context(
            correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
        )(noop),
        "tracer.capture_lambda_handler (tracing disabled)": tracer.capture_lambda_handler(capture_response=False)(noop),
        "metrics.log_metrics (no metrics)": metrics.log_metrics(noop),
        "all three, stacked as in make_lambda_handler": stacked,
    }
