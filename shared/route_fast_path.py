"""A shorter per-call path through FastAPI for routes without a body.

FastAPI's generic request handler (`solve_dependencies` and its caches, exit stacks, telemetry
hooks, then validate-and-serialize of the return value) costs about a quarter of a warm API call
here. Most of our routes need none of that generality: path, query and header parameters, async
dependencies that take only the request or such parameters (the scope check, the Idempotency-Key
header), and a pydantic model returned. For those routes this module builds a handler that does
the same steps in the same order with FastAPI's own validators, and answers byte for byte as FastAPI
would (tests/integration/test_route_fast_path.py compares both on every route). Any route shape it
does not know keeps FastAPI's handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from pydantic import BaseModel

# Off only in the parity test, which builds the same app both ways.
ENABLED = True

RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class _Step:
    """One callable with the parameters it takes from the request."""

    dependant: Dependant

    def params_of(self, request: Request) -> tuple[dict[str, Any], list[Any]]:
        d = self.dependant
        values: dict[str, Any] = {}
        errors: list[Any] = []
        # Each source is read only when asked for: Starlette parses query string and headers anew.
        if d.path_params:
            self._take(d.path_params, request.path_params, values, errors)
        if d.query_params:
            self._take(d.query_params, request.query_params, values, errors)
        if d.header_params:
            self._take(d.header_params, request.headers, values, errors)
        if d.request_param_name:
            values[d.request_param_name] = request
        return values, errors

    @staticmethod
    def _take(fields: list[Any], source: Any, values: dict[str, Any], errors: list[Any]) -> None:
        found, failed = request_params_to_args(fields, source)
        values.update(found)
        errors.extend(failed)


def _plain(dependant: Dependant, *, endpoint: bool) -> bool:
    """Whether the fast path can serve this callable exactly as FastAPI would."""
    if dependant.cookie_params or dependant.body_params or dependant.security_scopes_param_name:
        return False
    if dependant.response_param_name or dependant.background_tasks_param_name:
        return False
    if dependant.websocket_param_name or dependant.http_connection_param_name:
        return False
    # Only plain `async def` functions: FastAPI runs a `def` in a thread and a generator as a context.
    if not inspect.iscoroutinefunction(dependant.call):
        return False
    return endpoint or not dependant.dependencies


def _response_model(route: APIRoute) -> type[BaseModel] | None:
    """The return model, when serializing an instance of it directly equals FastAPI's output."""
    model = route.response_model
    options = (
        route.response_model_include,
        route.response_model_exclude,
        route.response_model_exclude_unset,
        route.response_model_exclude_defaults,
        route.response_model_exclude_none,
    )
    if isinstance(model, type) and issubclass(model, BaseModel) and route.response_model_by_alias:
        return model if not any(options) else None
    return None


def fast_handler(route: APIRoute) -> RouteHandler | None:
    """The shorter handler for `route`, or None when FastAPI's own must serve it."""
    dependant = route.dependant
    if not ENABLED or route.body_field is not None or not _plain(dependant, endpoint=True):
        return None
    if not all(_plain(sub, endpoint=False) for sub in dependant.dependencies):
        return None
    if any(sub.name is None for sub in dependant.dependencies):
        return None  # a dependency declared on the route or app, not as a parameter
    if route.response_field is None or not isinstance(route.response_class, DefaultPlaceholder):
        return None
    subs = [(sub.name or "", sub.call, _Step(sub)) for sub in dependant.dependencies]
    own = _Step(dependant)
    call = dependant.call
    if call is None:
        return None
    model = _response_model(route)
    field = route.response_field
    status_code = route.status_code

    async def handle(request: Request) -> Response:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for name, sub_call, step in subs:  # dependencies first, as solve_dependencies does
            sub_values, sub_errors = step.params_of(request)
            if sub_errors:
                errors.extend(sub_errors)
                continue
            values[name] = await sub_call(**sub_values)  # type: ignore[misc]
        own_values, own_errors = own.params_of(request)
        errors.extend(own_errors)
        if errors:
            raise RequestValidationError(errors)
        values.update(own_values)
        raw = await call(**values)
        if isinstance(raw, Response):
            return raw
        if model is not None and type(raw) is model:
            content: bytes = raw.model_dump_json(by_alias=True).encode()
        else:
            content = await serialize_response(field=field, response_content=raw, dump_json=True)
        return Response(content=content, media_type="application/json", status_code=status_code or 200)

    return handle
