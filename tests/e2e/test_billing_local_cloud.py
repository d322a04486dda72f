"""Billing on the local cloud: upgrade through the local Stripe and the checkout tool, a failed
then paid renewal, and a cancellation, as a developer does it with `make dev`."""

from __future__ import annotations

import secrets
from typing import Any

import stripe

from localcloud.local_stripe import LOCAL_SECRET_KEY
from tests.e2e.conftest import LocalCloudProcess
from tools import stripe_complete_checkout, stripe_send_event


def _headers(cloud: LocalCloudProcess, **extra: str) -> dict[str, str]:
    return {"X-Api-Key": cloud.demo["api_key"], **extra}


def _subscription(cloud: LocalCloudProcess) -> dict[str, Any]:
    reply = cloud.request("GET", "/billing/subscription", headers=_headers(cloud))
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.json
    return body


def test_upgrade_fail_a_payment_recover_and_cancel_on_the_local_cloud(cloud: LocalCloudProcess) -> None:
    assert cloud.stripe_url
    assert _subscription(cloud)["plan"] == "free"
    body = {"plan": "pro", "success_url": "http://localhost:3000/ok", "cancel_url": "http://localhost:3000/no"}
    reply = cloud.request(
        "POST", "/billing/checkout", body=body, headers=_headers(cloud, **{"Idempotency-Key": secrets.token_hex(8)})
    )
    assert reply.status == 200, reply.text
    session_id = reply.json["id"]

    tool = ["--api", cloud.api_url, "--stripe", cloud.stripe_url]
    assert stripe_complete_checkout.main([session_id, *tool]) == 0
    assert _subscription(cloud)["plan"] == "pro"

    client = stripe.StripeClient(LOCAL_SECRET_KEY, base_addresses={"api": cloud.stripe_url})
    subscription_id = str(client.v1.checkout.sessions.retrieve(session_id).subscription)
    assert stripe_send_event.main(["invoice.payment_failed", subscription_id, *tool]) == 0
    failing = _subscription(cloud)
    assert failing["plan"] == "pro" and failing["grace_until"] is not None
    assert stripe_send_event.main(["invoice.paid", subscription_id, *tool]) == 0
    assert _subscription(cloud)["payment_failed_at"] is None

    assert stripe_send_event.main(["customer.subscription.deleted", subscription_id, *tool]) == 0
    ended = _subscription(cloud)
    assert ended["plan"] == "free" and ended["status"] == "canceled"
