"""FastAPI app factory shared by every API function, and the one mapping of errors to HTTP.

Each endpoint family builds its app with `create_app`, declares async routes, and exports
`lambda_handler = make_lambda_handler(app)`. Errors raised anywhere below a route become
`{"error": {"code", "message", "details"}}` here and nowhere else.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fastapi import FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from mangum import Mangum
from pydantic import BaseModel, Field, JsonValue
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.auth.principal import Principal, Scope
from shared.config import get_settings
from shared.error_codes import ERROR_CODES, codes_for_status
from shared.errors import AppError, BadRequest, PayloadTooLarge, UnsupportedMediaType, error_body
from shared.inputs import IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN
from shared.json_body import MalformedJson, parse_json_body
from shared.observability import logger, metrics_flushed, traced
from shared.route_fast_path import fast_handler
from shared.snapstart import register_restore_hooks


def _skip_pydantic_v1_probe() -> None:
    """FastAPI imports `pydantic.v1` (~65 ms of cold start) only to ask whether an annotation or
    value is a pydantic v1 model. None can exist unless something imported pydantic.v1, so answer
    from sys.modules first and import nothing."""
    from fastapi import encoders
    from fastapi._compat import shared as compat

    def probe(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def check(value: Any) -> bool:
            return "pydantic.v1" in sys.modules and original(value)

        return check

    compat.is_pydantic_v1_model_class = probe(compat.is_pydantic_v1_model_class)  # type: ignore[assignment]
    compat.is_pydantic_v1_model_instance = probe(compat.is_pydantic_v1_model_instance)  # type: ignore[assignment]
    setattr(encoders, "is_pydantic_v1_model_instance", compat.is_pydantic_v1_model_instance)  # noqa: B010


_skip_pydantic_v1_probe()

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class ErrorDetail(BaseModel):
    code: str = Field(
        description="Stable machine-readable error code; the README lists each with its status.",
        json_schema_extra={"enum": list[JsonValue](sorted(ERROR_CODES))},
    )
    message: str = Field(description="Human-readable explanation.")
    details: dict[str, Any] | list[Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: ErrorDetail


def _described(status: int, description: str) -> str:
    """The status's meaning and the codes it can carry (from shared.error_codes)."""
    return f"{description}. Codes: " + ", ".join(f"`{code}`" for code in codes_for_status(status))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": _described(status, description)}
    for status, description in [
        (400, "Malformed request"),
        (401, "Missing or invalid credentials"),
        (403, "Credential lacks the required scope"),
        (404, "Not found (also for resources of other tenants)"),
        (409, "Conflicts with the current state"),
        (413, "Body too large"),
        (422, "Request failed validation"),
        (429, "Rate limited"),
    ]
}


# Operations a plan limit can refuse (shared/billing/plans.py) document this too.
PLAN_LIMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorResponse, "description": _described(402, "The tenant's plan does not allow this")}
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(code, message, details), headers=dict(headers or {}))


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field errors without echoing the submitted values back (they may hold secrets)."""
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        fields.append({"field": ".".join(loc), "message": str(err.get("msg", "")), "type": err.get("type", "")})
    return fields


async def _on_app_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AppError):
        raise exc
    if exc.status >= 500:
        logger.warning("request failed", extra={"error_code": exc.error_code})
    return JSONResponse(status_code=exc.status, content=exc.to_body(), headers=dict(exc.headers))


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    if errors and all(err.get("loc", ("",))[0] == "path" for err in errors):
        # An id that cannot exist is simply not found, like one that belongs to another tenant.
        return error_response(404, "not_found", "no such resource")
    return error_response(
        422, "validation_error", "the request failed validation", {"fields": _validation_details(exc)}
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette's own `Allow` names only the first
    route that matched the path, so `GET /bots` hid `POST /bots`."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:  # PARTIAL: the path matches, the method does not
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    codes = {404: "route_not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        message = f"{request.method} is not served here; allowed: {headers['Allow']}"
    return error_response(exc.status_code, code, message, headers=headers)


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return error_response(500, "internal_error", "an internal error occurred")


class _ParsedJsonRequest(Request):
    """A request whose JSON body was already parsed by `parse_json_body`."""

    parsed_json: Any = None

    async def json(self) -> Any:
        return self.parsed_json


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class JsonBodyRoute(APIRoute):
    on_fast_path = False  # served by shared.route_fast_path instead of FastAPI's generic handler

    """Every route with a JSON body reads it here: a non-JSON Content-Type is a 415 and the body goes
    through the one strict parser (shared.json_body), so each malformed body is a 400
    `malformed_json` saying why. Routes that read the raw body themselves (signals, CSV uploads)
    declare no body model and pass through untouched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.body_field is not None:
            self.responses = {
                **self.responses,
                415: {
                    "description": _described(415, "The body is not JSON (Content-Type must be application/json)"),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                },
            }

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if self.body_field is None:
            fast = fast_handler(self)
            self.on_fast_path = fast is not None
            return fast or super().get_route_handler()
        handle = super().get_route_handler()

        async def handle_json(request: Request) -> Response:
            parsed = _ParsedJsonRequest(request.scope, request.receive)
            body = await parsed.body()
            if body:
                if not _is_json_media_type(request.headers.get("content-type", "")):
                    raise UnsupportedMediaType(
                        "send the body as JSON with Content-Type: application/json",
                        details={"accepted": ["application/json"]},
                    )
                try:
                    parsed.parsed_json = parse_json_body(body)
                except MalformedJson as exc:
                    raise BadRequest(f"the request body is not valid JSON: {exc}", code="malformed_json") from None
            return await handle(parsed)

        return handle_json


def create_app(title: str, description: str = "") -> FastAPI:
    """A FastAPI app with our error mapping and no docs routes (system_api serves the merged spec)."""
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        responses=ERROR_RESPONSES,
        # FastAPI's OpenTelemetry hooks ask the providers on every request; we trace with X-Ray.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = JsonBodyRoute
    app.add_exception_handler(AppError, _on_app_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    return app


def principal(request: Request) -> Principal:
    """The caller, from the API Gateway authorizer context only."""
    event = request.scope.get("aws.event") or {}
    context = (event.get("requestContext") or {}).get("authorizer")
    return Principal.from_authorizer_context(context)


def require_scope(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: the caller, who must hold `scope`. Async on purpose: FastAPI runs a
    plain `def` dependency in a worker thread, which costs ~0.7 ms per call under Mangum."""

    async def dependency(request: Request) -> Principal:
        caller = principal(request)
        caller.require(scope)
        return caller

    return dependency


_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def idempotency_key(
    value: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description="Required. Repeating a request with the same key returns the first result; "
            "the same key with a different body is a 422.",
        ),
    ] = None,
) -> str:
    """FastAPI dependency for money-moving endpoints: the `Idempotency-Key` header, required."""
    if value is None:
        raise BadRequest("the Idempotency-Key header is required for this operation", code="idempotency_key_required")
    if not _IDEMPOTENCY_KEY.match(value):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces", code="idempotency_key_invalid"
        )
    return value


def _body_size(event: Mapping[str, Any]) -> int:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4
    return len(body.encode())


def _too_large_response(limit: int) -> dict[str, Any]:
    err = PayloadTooLarge(f"the request body exceeds {limit} bytes", details={"limit_bytes": limit})
    return {
        "statusCode": err.status,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "body": json.dumps(err.to_body()),
        "isBase64Encoded": False,
    }


def make_lambda_handler(app: FastAPI, *, on_invoke: Callable[[LambdaContext], None] | None = None) -> LambdaHandler:
    """Wrap an app for API Gateway REST proxy events, with logging, tracing and metrics."""
    adapter = Mangum(app, lifespan="off")
    limit = get_settings().max_body_bytes
    register_restore_hooks()  # API functions run with SnapStart (template.yaml)

    @logger.inject_lambda_context(clear_state=True)
    @traced
    @metrics_flushed
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # The request id as correlation id, read directly (a JMESPath lookup per call costs more).
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        if on_invoke is not None:
            on_invoke(context)
        if _body_size(event) > limit:
            return _too_large_response(limit)
        response: dict[str, Any] = adapter(event, context)  # type: ignore[arg-type]
        return response

    wrapped: LambdaHandler = handler
    return wrapped
