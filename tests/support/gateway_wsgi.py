"""The local cloud's API Gateway (routes, authorizer, gateway responses) as a WSGI app, so HTTP test
clients such as schemathesis call every function in-process through real proxy events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from localcloud.gateway import Gateway

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _request_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").title(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").title(), str(value)))
    return headers


class GatewayWsgiApp:
    """A WSGI callable that hands each request to `Gateway.handle`, as the local cloud's HTTP server does."""

    def __init__(self, gateway: Gateway, source_ip: str = "203.0.113.7") -> None:
        self.gateway = gateway
        self.source_ip = source_ip

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = (environ.get("RAW_URI") or quote(environ.get("PATH_INFO") or "/")).split("?", 1)[0]
        query = environ.get("QUERY_STRING") or ""
        raw_path = f"{path}?{query}" if query else path
        reply = self.gateway.handle(
            environ["REQUEST_METHOD"], raw_path, _request_headers(environ), body, self.source_ip
        )
        try:
            reason = HTTPStatus(reply.status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{reply.status} {reason}", reply.headers)
        return [reply.body]
