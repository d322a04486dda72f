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
        schemas.update(part.get("components", {}).get("schemas", {}))
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (path, method) in PUBLIC_OPERATIONS:
                operation["security"] = []
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


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return spec


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=1, sort_keys=False) + "\n"
