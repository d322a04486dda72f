"""Stripe webhook handling: handler time (p50/p99) and DynamoDB requests per Stripe event, through
billing_api's real handler against moto and the local Stripe (localstripe over HTTP).

The floor is `GET /v1/billing/plans` through the same handler (no AWS, no Stripe): each row's
ratio to it is what the event's work adds to the Lambda/FastAPI/Mangum path itself.

    .venv/bin/python -m benchmarks.stripe_webhook [--runs 200]
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from benchmarks._support import STATS_HEADER, Stats, start_cloud, time_calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs

    cloud = start_cloud()
    from localcloud.local_stripe import LocalStripe, complete_checkout, signed_event

    stripe_server = LocalStripe().start()
    os.environ.update(stripe_server.environment())
    from shared.config import get_settings

    get_settings.cache_clear()

    from benchmarks.dynamodb_requests import ClientTally, hook_every_client
    from functions.auth_api.app import lambda_handler as auth_handler
    from functions.billing_api.app import lambda_handler as billing_handler
    from tests.support.api import LambdaApi, build_event, idempotency_header, invoke
    from tests.support.tenants import new_tenant

    caller, _ = new_tenant(auth_handler)
    api = LambdaApi(billing_handler, caller)
    body = {"plan": "pro", "success_url": "http://localhost:3000/ok", "cancel_url": "http://localhost:3000/no"}
    session_id = api.post("/billing/checkout", body=body, headers=idempotency_header()).json["id"]
    session, subscription = complete_checkout(stripe_server.url, session_id)
    invoice = {
        "id": "in_bench",
        "object": "invoice",
        "customer": session["customer"],
        "subscription": subscription["id"],
    }

    names = {
        getattr(get_settings(), f"{t}_table"): t for t in ("billing", "stripe_events", "tenants", "events", "bots")
    }
    tally = ClientTally(names)
    hook_every_client(tally)
    from shared import persistence

    tally.watch(persistence.connection().client)

    def post(event_body: bytes, header: str) -> None:
        event = build_event(
            "POST", "/billing/stripe-webhook", raw_body=event_body.decode(), headers={"Stripe-Signature": header}
        )
        reply = invoke(billing_handler, event)
        assert reply.status == 200, reply.text

    def fresh(event_type: str, obj: dict[str, Any]) -> Callable[[], None]:
        return lambda: post(*signed_event(event_type, obj))

    duplicate = signed_event("customer.subscription.updated", subscription)
    post(*duplicate)
    alternate = iter(range(10**9))

    def invoice_event() -> None:
        kind = "invoice.payment_failed" if next(alternate) % 2 == 0 else "invoice.paid"
        post(*signed_event(kind, invoice))

    scenarios: list[tuple[str, Callable[[], object]]] = [
        ("GET /billing/plans (floor)", lambda: api.get("/billing/plans")),
        (
            "unhandled type (verify, 200 ignored)",
            fresh("charge.succeeded", {"id": "ch_1", "customer": session["customer"]}),
        ),
        ("redelivered event (duplicate)", lambda: post(*duplicate)),
        ("checkout.session.completed", fresh("checkout.session.completed", session)),
        ("customer.subscription.updated", fresh("customer.subscription.updated", subscription)),
        ("invoice.payment_failed / invoice.paid, alternating", invoice_event),
    ]
    print(f"{runs} calls per row after 10 warm-up calls; DynamoDB requests counted client side per call")
    print(f"{STATS_HEADER} {'x floor':>8} {'DDB/call':>9}")
    floor: Stats | None = None
    for label, call in scenarios:
        for _ in range(10):
            call()
        tally.requests.clear()
        stats = time_calls(call, warmup=0, runs=runs)
        per_call = Counter(r.label() for r in tally.requests)
        floor = floor or stats
        print(f"{stats.row(label)} {stats.p50 / floor.p50:>8.1f} {len(tally.requests) / runs:>9.1f}")
        for request, count in sorted(per_call.items()):
            print(f"    {count / runs:>5.2f} x {request}")
    stripe_server.stop()
    cloud.stop()


if __name__ == "__main__":
    main()
