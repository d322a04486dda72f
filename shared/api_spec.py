"""The merged OpenAPI document of every endpoint family, as API Gateway serves them under /v1.

`build_spec` runs at development time (`make openapi`) over the FastAPI apps and the result is
shipped as shared/openapi.json, so system_api serves it without importing every family.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.inputs import IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN

SPEC_PATH = Path(__file__).with_name("openapi.json")
PUBLIC_OPERATIONS = {
    ("/auth/signup", "post"),
    ("/auth/login", "post"),
    ("/health", "get"),
    ("/health/ready", "get"),
    ("/openapi.json", "get"),
}
PUBLIC_OPERATIONS |= {("/signals/{bot_id}", "post")}  # signals: authenticated by the bot's signal secret


def build_spec(apps: Iterable[FastAPI], stage: str = "v1") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for app in apps:
        part = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for path, operations in part.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(name, schema) != schema:
                # The last family's model would silently replace the other's in every $ref.
                raise ValueError(f"two different models are named {name}: rename one")
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (path, method) in PUBLIC_OPERATIONS:
                operation["security"] = []
            _state_idempotency_key(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CryptoOrchestrator API",
            "version": "1.0.0",
            "description": "Run automated crypto trading bots. Errors are always "
            '`{"error": {"code", "message", "details"}}`.',
        },
        "servers": [{"url": f"/{stage}"}],
        "security": [{"bearerAuth": []}, {"apiKeyAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Access token from POST /auth/login, or an API key.",
                },
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }


def _state_idempotency_key(operation: dict[str, Any]) -> None:
    """The header is optional to FastAPI (so a missing one gets our own 400 code), but required to
    clients, with the rule shared.web checks."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == IDEMPOTENCY_KEY_HEADER:
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return spec


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=1, sort_keys=False) + "\n"
