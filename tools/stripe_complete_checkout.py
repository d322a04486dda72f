"""`python -m tools.stripe_complete_checkout <session id>`: on the local cloud, do what a buyer
paying on Stripe's checkout page does, then what Stripe does next: the local Stripe completes the
session and creates the subscription, and the signed `checkout.session.completed`,
`customer.subscription.created` and `invoice.paid` events are posted to the billing webhook.
Dev-only: it talks to the local Stripe (`make dev`), never to Stripe."""

from __future__ import annotations

import argparse

from localcloud.local_stripe import DEFAULT_PORT, LOCAL_WEBHOOK_SECRET, complete_checkout, deliver, signed_event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools.stripe_complete_checkout", description=__doc__)
    parser.add_argument("session_id", help="the cs_test_... id from POST /v1/billing/checkout")
    parser.add_argument("--api", default="http://127.0.0.1:3000/v1", help="the local cloud's API URL")
    parser.add_argument("--stripe", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="the local Stripe URL")
    parser.add_argument("--webhook-secret", default=LOCAL_WEBHOOK_SECRET)
    args = parser.parse_args(argv)

    session, subscription = complete_checkout(args.stripe, args.session_id)
    invoice = {"id": subscription.get("latest_invoice") or "in_local", "object": "invoice"}
    invoice.update(customer=session["customer"], subscription=subscription["id"])
    print(f"subscription {subscription['id']} ({subscription['status']}) for customer {session['customer']}")
    webhook = f"{args.api}/billing/stripe-webhook"
    failed = 0
    for event_type, obj in (
        ("checkout.session.completed", session),
        ("customer.subscription.created", subscription),
        ("invoice.paid", invoice),
    ):
        status, answer = deliver(webhook, *signed_event(event_type, obj, secret=args.webhook_secret))
        print(f"{event_type}: {status} {answer}")
        failed += status != 200
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
