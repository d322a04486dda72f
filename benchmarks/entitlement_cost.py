"""What the plan checks cost `POST /v1/bots` and bot start: DynamoDB requests and handler time,
with the entitlement checks off ("before") and on ("after"), in the same run.

"Before" is the pre-entitlements code path, reproduced by replacing the three entitlement seams
the bots service calls with what the code did without them: `tenant_plan` answers without
reading the tenant, `require_live_trading` allows, and `stage_bot_counts` stages nothing (so
the transaction holds only the bot and its outbox row). "After" is the code as deployed.
Each round: create, start, stop, delete one bot (a team-plan tenant, so nothing is refused).

    .venv/bin/python -m benchmarks.entitlement_cost [rounds]
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections import Counter
from contextlib import ExitStack
from typing import Any
from unittest import mock

from benchmarks._support import BOT_BODY, PASSWORD, STATS_HEADER, Stats, start_cloud

OPERATIONS = ("create bot", "start bot", "stop bot", "delete bot")
VARIANTS = ("before", "after")


def _pre_entitlements() -> ExitStack:
    """Patch the entitlement seams out of the bots service (the "before" path)."""
    from shared.billing import entitlements
    from shared.billing.plans import PLANS

    stack = ExitStack()
    stack.enter_context(mock.patch.object(entitlements, "tenant_plan", lambda tenant_id: PLANS["team"]))
    stack.enter_context(mock.patch.object(entitlements, "require_live_trading", lambda plan, account: None))
    stack.enter_context(mock.patch.object(entitlements, "stage_bot_counts", lambda tx, tenant_id, change: None))
    return stack


def _round(driver: Any, owner: Any, samples: dict[str, list[float]], requests: dict[str, Counter[str]]) -> None:
    from tests.support.api import build_event, invoke

    def call(name: str, method: str, url: str, **kwargs: Any) -> Any:
        event = build_event(method, url, caller=owner, **kwargs)
        before = len(driver.client.requests)
        started = time.perf_counter()
        reply = invoke(driver.bots, event)
        samples[name].append(time.perf_counter() - started)
        assert reply.status in (200, 201, 204), reply.text
        requests[name] += Counter(r.label() for r in driver.client.requests[before:] if r.service == "dynamodb")
        return reply

    created = call("create bot", "POST", "/bots", body=BOT_BODY, headers={"Idempotency-Key": secrets.token_hex(8)})
    url = f"/bots/{created.json['id']}"
    call("start bot", "POST", f"{url}/start")
    call("stop bot", "POST", f"{url}/stop")
    call("delete bot", "DELETE", url)


def measure(cloud: Any, rounds: int) -> None:
    from benchmarks.dynamodb_requests import Driver
    from tests.support.api import Caller, LambdaApi
    from tests.support.tenants import set_plan

    cloud_driver = Driver(cloud)
    email = f"bench-{secrets.token_hex(4)}@example.com"
    signed = LambdaApi(cloud_driver.auth).post("/auth/signup", body={"email": email, "password": PASSWORD}).json
    owner = Caller(tenant_id=signed["tenant"]["id"], principal_id=f"user:{signed['user']['id']}")
    set_plan(owner.tenant_id, "team")

    # Rounds alternate between the variants, so load from anything else on the machine falls on both.
    samples: dict[str, dict[str, list[float]]] = {variant: {name: [] for name in OPERATIONS} for variant in VARIANTS}
    requests: dict[str, dict[str, Counter[str]]] = {
        variant: {name: Counter() for name in OPERATIONS} for variant in VARIANTS
    }
    warm: tuple[dict[str, list[float]], dict[str, Counter[str]]] = (
        {name: [] for name in OPERATIONS},
        {name: Counter() for name in OPERATIONS},
    )
    for index in range(rounds + 1):
        for variant in VARIANTS:
            with _pre_entitlements() if variant == "before" else ExitStack():
                if index == 0:
                    _round(cloud_driver, owner, *warm)  # warm-up (and the counter's first initialization)
                else:
                    _round(cloud_driver, owner, samples[variant], requests[variant])
    results = {variant: (samples[variant], requests[variant]) for variant in VARIANTS}

    print(f"\nEntitlement checks on the bots API: {rounds} rounds of create/start/stop/delete (moto, in-process)\n")
    print("DynamoDB requests per call (client side), and what they are:")
    for name in OPERATIONS:
        for variant in VARIANTS:
            counted = results[variant][1][name]
            per_call = sum(counted.values()) / rounds
            detail = "; ".join(f"{label} x{n / rounds:g}" for label, n in sorted(counted.items()))
            print(f"  {name:<11} {variant:<6} {per_call:>4.1f}  {detail}")
    print(f"\n{STATS_HEADER}")
    for name in OPERATIONS:
        before = Stats.of(results["before"][0][name])
        after = Stats.of(results["after"][0][name])
        print(before.row(f"{name}, before (checks off: the floor)"))
        print(after.row(f"{name}, after"))
        print(f"{'':<52} after/before p50 = {after.p50 / before.p50:.2f}x, mean = {after.mean / before.mean:.2f}x")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    cloud = start_cloud()  # before anything from shared/functions is imported
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    try:
        measure(cloud, rounds)
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
