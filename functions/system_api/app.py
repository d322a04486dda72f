"""System endpoint family: liveness, readiness and the merged OpenAPI document."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from functools import lru_cache
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared import api_spec, health
from shared.web import create_app, make_lambda_handler

app = create_app("CryptoOrchestrator system", "Health and API description.")


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "degraded"]
    checks: dict[str, dict[str, Any]]


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    return api_spec.load_spec()


@app.get("/health", tags=["system"])
async def liveness() -> Liveness:
    """The function answers. No dependencies are checked."""
    return Liveness()


@app.get("/health/ready", tags=["system"], responses={503: {"model": Readiness}})
async def readiness() -> JSONResponse:
    """Checks DynamoDB and EventBridge and reports each; 503 if any is unreachable."""
    ok, checks = health.readiness()
    body = Readiness(status="ready" if ok else "degraded", checks=checks)
    return JSONResponse(status_code=200 if ok else 503, content=body.model_dump())


@app.get("/openapi.json", tags=["system"])
async def openapi() -> JSONResponse:
    """The OpenAPI 3.1 description of every endpoint family."""
    return JSONResponse(_spec())


lambda_handler = make_lambda_handler(app)


init_phase.complete()
