"""Drive a function's `lambda_handler` with API Gateway REST proxy events built from events/*.json."""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from localcloud.functions import FakeLambdaContext, ensure_event_loop

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def error_code(self) -> str | None:
        body = self.json
        return body.get("error", {}).get("code") if isinstance(body, dict) else None


@dataclass
class Caller:
    """Who the authorizer said is calling (what API Gateway puts in requestContext.authorizer)."""

    tenant_id: str
    principal_id: str
    scopes: tuple[str, ...] = ("read", "trade", "admin")
    extra_headers: dict[str, str] = field(default_factory=dict)

    def context(self) -> dict[str, str]:
        return {
            "tenant_id": self.tenant_id,
            "principal_id": self.principal_id,
            "scopes": " ".join(self.scopes),
            "principalId": self.principal_id,
        }


def build_event(
    method: str,
    url: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    caller: Caller | None = None,
    base: str = "bots_api_get.json",
) -> dict[str, Any]:
    event = copy.deepcopy(load_event(base))
    split = urlsplit(url)
    path = split.path
    event["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["path"] = "/v1" + path
    event["requestContext"]["requestId"] = secrets.token_hex(8)
    all_headers = {"Accept": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    if body is not None or raw_body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    event["headers"] = all_headers
    event["multiValueHeaders"] = {k: [v] for k, v in all_headers.items()}
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    event["body"] = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if caller is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"] = caller.context()
    return event


def invoke(handler: Any, event: dict[str, Any], function_name: str = "test-function") -> Reply:
    ensure_event_loop()
    result = handler(event, FakeLambdaContext(function_name, 512, 10))
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = values[-1]
    return Reply(int(result["statusCode"]), headers, result.get("body") or "")


@dataclass
class LambdaApi:
    """One function's handler, called as API Gateway would, on behalf of one caller."""

    handler: Any
    caller: Caller | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        event = build_event(method, url, body=body, raw_body=raw_body, headers=headers, caller=self.caller)
        return invoke(self.handler, event)

    def get(self, url: str, **kwargs: Any) -> Reply:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Reply:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Reply:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", url, **kwargs)


def idempotency_header() -> dict[str, str]:
    """A fresh `Idempotency-Key` header: each call is a new request."""
    return {"Idempotency-Key": secrets.token_hex(8)}
