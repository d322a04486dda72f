"""Route shapes the fast path must answer exactly as FastAPI does, on a small app built both ways:
status codes, aliases, optional and list returns, a Response returned as is, header and query
parameters with defaults, and a dependency's refusal before a parameter's validation error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from shared import route_fast_path
from shared.errors import Forbidden
from shared.web import create_app, make_lambda_handler
from tests.support.api import Caller, Reply, build_event, invoke


class Thing(BaseModel):
    thing_id: str = Field(serialization_alias="id")
    note: str | None = None


async def must_be_admin(request: Request) -> str:
    event = request.scope.get("aws.event") or {}
    scopes = ((event.get("requestContext") or {}).get("authorizer") or {}).get("scopes", "")
    if "admin" not in scopes.split():
        raise Forbidden("admin only")
    return "admin"


async def counted(count: Annotated[int, Header(alias="X-Count")]) -> int:
    return count


Admin = Annotated[str, Depends(must_be_admin)]
ThingId = Annotated[str, Path(pattern=r"^t_[0-9]+$")]


def build(fast: bool) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    route_fast_path.ENABLED = fast
    try:
        app: FastAPI = create_app("shapes")

        @app.post("/things/{thing_id}/go", status_code=202)
        async def go(thing_id: ThingId, who: Admin) -> Thing:
            return Thing(thing_id=thing_id, note=who)

        @app.get("/things/{thing_id}")
        async def one(thing_id: ThingId, who: Admin) -> Thing | None:
            return None if thing_id == "t_0" else Thing(thing_id=thing_id)

        @app.get("/things")
        async def many(
            who: Admin,
            limit: Annotated[int, Query(ge=1, le=5)] = 2,
            tag: Annotated[str | None, Header(alias="X-Tag")] = None,
        ) -> list[Thing]:
            return [Thing(thing_id=f"t_{n}", note=tag) for n in range(limit)]

        @app.delete("/things/{thing_id}", status_code=204)
        async def remove(thing_id: ThingId, who: Admin) -> Response:
            return Response(status_code=204)

        @app.get("/dicts/{thing_id}", response_model=Thing)
        async def as_dict(thing_id: ThingId) -> dict[str, Any]:
            return {"thing_id": thing_id, "note": "from a dict", "ignored": True}

        @app.get("/counted")
        async def with_count(count: Annotated[int, Depends(counted)]) -> Thing:
            return Thing(thing_id=f"t_{count}")

        on_fast = [r.path for r in app.routes if isinstance(r, APIRoute) and getattr(r, "on_fast_path", False)]
        assert bool(on_fast) == fast
        return make_lambda_handler(app)
    finally:
        route_fast_path.ENABLED = True


FAST, SLOW = build(True), build(False)
ADMIN = Caller("ten_1", "user:1", scopes=("admin",))
NOBODY = Caller("ten_1", "user:2", scopes=())

CASES: list[tuple[str, str, Caller, dict[str, str]]] = [
    ("POST", "/things/t_1/go", ADMIN, {}),
    ("POST", "/things/bad/go", ADMIN, {}),
    ("POST", "/things/bad/go", NOBODY, {}),
    ("GET", "/things/t_7", ADMIN, {}),
    ("GET", "/things/t_0", ADMIN, {}),
    ("GET", "/things", ADMIN, {}),
    ("GET", "/things?limit=4", ADMIN, {"X-Tag": "blue"}),
    ("GET", "/things?limit=9", ADMIN, {}),
    ("GET", "/things?limit=abc", NOBODY, {}),
    ("DELETE", "/things/t_3", ADMIN, {}),
    ("GET", "/dicts/t_5", ADMIN, {}),
    ("GET", "/counted", ADMIN, {"X-Count": "3"}),
    ("GET", "/counted", ADMIN, {"X-Count": "three"}),
]


def _call(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], case: tuple[str, str, Caller, dict[str, str]]
) -> Reply:
    method, url, caller, headers = case
    return invoke(handler, build_event(method, url, caller=caller, headers=headers))


@pytest.mark.parametrize("case", CASES, ids=[f"{m} {u} {c.scopes}" for m, u, c, _ in CASES])
def test_the_fast_path_answers_as_fastapi(case: tuple[str, str, Caller, dict[str, str]]) -> None:
    fast, slow = _call(FAST, case), _call(SLOW, case)
    assert (fast.status, fast.headers.get("content-type"), fast.text) == (
        slow.status,
        slow.headers.get("content-type"),
        slow.text,
    )


def test_the_cases_cover_what_they_claim() -> None:
    """Guards the table above: each shape really produced the answer it is there for."""
    statuses = [_call(FAST, case).status for case in CASES]
    assert statuses == [202, 404, 403, 200, 200, 200, 200, 422, 403, 204, 200, 200, 422]
    assert _call(FAST, CASES[0]).json == {"id": "t_1", "note": "admin"}
    assert _call(FAST, CASES[4]).text == "null"
    assert _call(FAST, CASES[10]).json == {"id": "t_5", "note": "from a dict"}
