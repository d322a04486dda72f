"""Warm per-call cost of `GET /v1/bots/{id}` through bots_api's real `lambda_handler`.

A warm Lambda pays this on every request, so it splits the total into what the framework costs
(powertools decorators + Mangum + FastAPI + pydantic, measured with the data read stubbed out)
and what the data layer costs (PynamoDB + botocore + an HTTP round trip to moto's in-process
server). moto's latency is nothing like DynamoDB's, so the data-layer figure is client overhead
plus moto, not a prediction of DynamoDB latency.

    .venv/bin/python -m benchmarks.warm_calls [--runs 300] [--warmup 20] [--no-variants]

Environment as in the test suite (tests/support/aws.py): POWERTOOLS_TRACE_DISABLED and
POWERTOOLS_METRICS_DISABLED are true, so X-Ray subsegments and EMF output are not included.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from benchmarks._support import BOT_BODY, PASSWORD, STATS_HEADER, Stats, start_cloud, time_calls

FRAMEWORK_TARGET_US = 150.0
FLOOR_RATIO_GOAL = 1.25  # issue 11: framework share <= 1.25x the same route on APIGatewayRestResolver


def interleaved(calls: dict[str, Callable[[], Any]], *, blocks: int, per_block: int) -> dict[str, Stats]:
    """Time several calls in alternating blocks (a, b, a, b, ...), so load on this shared machine
    hits each alike; each sample is one block's mean per call."""
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for call in calls.values():
        for _ in range(per_block):
            call()
    for _ in range(blocks):
        for label, call in calls.items():
            start = time.perf_counter()
            for _ in range(per_block):
                call()
            samples[label].append((time.perf_counter() - start) / per_block)
    return {label: Stats.of(values) for label, values in samples.items()}


@contextmanager
def stubbed_get_bot(record: Any) -> Iterator[None]:
    """Answer `shared.bots.service.get_bot` (imported there by name) from memory, with a plain
    function rather than a Mock so the stub itself costs next to nothing per call."""

    def get_bot(tenant_id: str, bot_id: str) -> Any:
        return record

    with mock.patch("shared.bots.service.get_bot", new=get_bot):
        yield


def _checked(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], context: Any
) -> Callable[[], Any]:
    """The timed call; verified once up front so a broken setup cannot produce a fast number."""
    reply = handler(event, context)
    if reply.get("statusCode") != 200:
        raise SystemExit(f"GET /bots/{{id}} answered {reply.get('statusCode')}: {reply.get('body')}")
    return lambda: handler(event, context)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--no-variants", action="store_true", help="skip the alternative route shapes")
    args = parser.parse_args(argv)

    cloud = start_cloud()  # before anything from shared/functions is imported
    try:
        run(args.runs, args.warmup, variants=not args.no_variants)
    finally:
        cloud.stop()


@dataclass
class Fixture:
    """One tenant with one bot, and the API Gateway event that reads it."""

    owner: Any  # shared.auth.principal.Principal
    bot_id: str
    record: Any  # shared.bots.models.BotRecord, as get_bot returned it
    event: dict[str, Any]
    context: Any


@dataclass
class Results:
    total: Stats
    framework: Stats
    bare: Stats
    service_only: Stats
    data: Stats
    versus_floor: dict[str, Stats] = field(default_factory=dict)
    ladder: dict[str, Stats] = field(default_factory=dict)
    variants: dict[str, Stats] = field(default_factory=dict)


def make_fixture() -> Fixture:
    """Sign up a tenant and create its bot through the services (no HTTP layer involved)."""
    from localcloud.functions import FakeLambdaContext, ensure_event_loop
    from shared.auth import service as auth_service
    from shared.auth.principal import ALL_SCOPES, Principal
    from shared.auth.schemas import SignupRequest
    from shared.bots import models
    from shared.bots import service as bot_service
    from shared.bots.schemas import BotCreate
    from shared.idempotency import register_lambda_context
    from tests.support.api import Caller, build_event

    ensure_event_loop()
    register_lambda_context(FakeLambdaContext("bench", 512, 60))  # type: ignore[arg-type]
    signed_up = auth_service.signup(
        SignupRequest(email="bench-owner@example.com", password=PASSWORD), client_ip="127.0.0.1"
    )
    owner = Principal(
        tenant_id=signed_up.tenant.id, principal_id=f"user:{signed_up.user.id}", scopes=frozenset(ALL_SCOPES)
    )
    bot = bot_service.create_bot(owner, BotCreate.model_validate(BOT_BODY), "bench-create-1")
    record = models.get_bot(owner.tenant_id, bot.id)
    if record is None:
        raise SystemExit("the bot just created cannot be read back")
    event = build_event("GET", f"/bots/{bot.id}", caller=Caller(owner.tenant_id, owner.principal_id))
    return Fixture(owner, bot.id, record, event, FakeLambdaContext("bots_api", 512, 10))


def measure(fx: Fixture, runs: int, warmup: int, *, variants: bool) -> Results:
    """Every timing, one series at a time (never concurrently)."""
    from mangum import Mangum

    from benchmarks._variants import VARIANTS, decorator_ladder, resolver_floor
    from functions.bots_api import app as bots_app
    from shared.bots import models
    from shared.bots import service as bot_service

    def timed(call: Callable[[], Any]) -> Stats:
        return time_calls(call, warmup=warmup, runs=runs)

    event, context = fx.event, fx.context
    total = timed(_checked(bots_app.lambda_handler, event, context))
    with stubbed_get_bot(fx.record):
        framework = timed(_checked(bots_app.lambda_handler, event, context))
        bare = timed(_checked(Mangum(bots_app.app, lifespan="off"), event, context))
        service_only = timed(lambda: bot_service.read_bot(fx.owner, fx.bot_id).model_dump_json())
        floor = _checked(resolver_floor(), event, context)
        ours = _checked(bots_app.lambda_handler, event, context)
        generic = _checked(VARIANTS["as deployed, but FastAPI's generic handler (no fast path)"], event, context)
        versus_floor = interleaved(
            {
                "ours: lambda_handler (FastAPI + Mangum)": ours,
                "floor: APIGatewayRestResolver, validation on": floor,
                "ours without the fast route path": generic,
            },
            blocks=max(10, runs // 10),
            per_block=20,
        )
        shapes = {
            label: timed(_checked(handler, event, context)) for label, handler in (VARIANTS.items() if variants else [])
        }
    ladder = {label: timed(functools.partial(handler, event, context)) for label, handler in decorator_ladder().items()}
    data = timed(lambda: models.get_bot(fx.owner.tenant_id, fx.bot_id))
    return Results(total, framework, bare, service_only, data, versus_floor, ladder, shapes)


def _table(rows: list[tuple[str, Stats]]) -> None:
    print(STATS_HEADER)
    print("-" * len(STATS_HEADER))
    for label, stats in rows:
        print(stats.row(label))


def report(r: Results, runs: int, warmup: int) -> None:
    print(
        f"\nWarm GET /v1/bots/{{id}} via functions.bots_api.app.lambda_handler: {runs} calls after "
        f"{warmup} warm-up, one at a time  [{sys.executable}]\n"
    )
    _table(
        [
            ("total: lambda_handler, data from moto", r.total),
            ("framework only: lambda_handler, get_bot stubbed", r.framework),
            ("data layer only: shared.bots.models.get_bot vs moto", r.data),
        ]
    )
    met = "met" if r.framework.p50 <= FRAMEWORK_TARGET_US else "NOT met"
    print(f"\ntotal per call (p50)            {r.total.p50:8.1f} µs")
    print(f"framework-only per call (p50)   {r.framework.p50:8.1f} µs   target <= {FRAMEWORK_TARGET_US:.0f} µs ({met})")
    print(f"data-layer per call (p50)       {r.data.p50:8.1f} µs   (PynamoDB + botocore + HTTP round trip to moto)")

    print("\nWhere the framework time goes (get_bot stubbed):")
    noop = r.ladder["no-op handler"]
    _table(
        [
            ("lambda_handler (make_lambda_handler around Mangum)", r.framework),
            ("Mangum(app) alone, no powertools decorators", r.bare),
            ("read_bot + BotOut.model_dump_json, no HTTP layer", r.service_only),
            *(
                (f"decorators on a no-op: {label}" if stats is noop else f"  {label}", stats)
                for label, stats in r.ladder.items()
            ),
        ]
    )
    print()
    for label, stats in list(r.ladder.items())[1:]:
        print(f"{label:<48} ~ {stats.p50 - noop.p50:7.1f} µs p50 per call")
    print(
        f"{'Mangum + FastAPI, everything in the app':<48} ~ {r.bare.p50 - r.service_only.p50:7.1f} µs p50 per call  "
        "(Mangum alone minus read_bot+dump)"
    )
    if r.variants:
        print("\nFramework-only (get_bot stubbed) for other route shapes, through make_lambda_handler:")
        _table([("as deployed: async route and scope check, fast path", r.framework), *r.variants.items()])
    if r.versus_floor:
        ours, floor, generic = r.versus_floor.values()
        ratio = ours.p50 / floor.p50
        verdict = "met" if ratio <= FLOOR_RATIO_GOAL else "NOT met"
        print("\nFramework share against the floor (get_bot stubbed), interleaved blocks of 20 calls:")
        _table(list(r.versus_floor.items()))
        print(f"\nours / floor (p50 of block means)  {ratio:5.2f}x   goal <= {FLOOR_RATIO_GOAL}x ({verdict})")
        print(f"without the fast route path / floor {generic.p50 / floor.p50:5.2f}x")
    print("\n(Timings are wall-clock on a shared machine: compare rows of one run, not across runs.)")


def run(runs: int, warmup: int, *, variants: bool) -> None:
    fixture = make_fixture()
    report(measure(fixture, runs, warmup, variants=variants), runs, warmup)


if __name__ == "__main__":
    main()
