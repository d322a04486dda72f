"""`python -m tools.stripe_send_event <type> <subscription id>`: on the local cloud, send Stripe's
signed event about a subscription to the billing webhook, as Stripe would after a renewal failed
(`invoice.payment_failed`), was paid (`invoice.paid`), or the subscription was canceled
(`customer.subscription.deleted`: the local Stripe cancels it first). Dev-only."""

from __future__ import annotations

import argparse

from localcloud.local_stripe import DEFAULT_PORT, LOCAL_SECRET_KEY, LOCAL_WEBHOOK_SECRET, deliver, signed_event

TYPES = ("invoice.payment_failed", "invoice.paid", "customer.subscription.deleted", "customer.subscription.updated")


def main(argv: list[str] | None = None) -> int:
    import stripe

    parser = argparse.ArgumentParser(prog="tools.stripe_send_event", description=__doc__)
    parser.add_argument("type", choices=TYPES)
    parser.add_argument(
        "subscription_id", help="sub_... (GET /v1/billing/subscription does not show it; the checkout tool prints it)"
    )
    parser.add_argument("--api", default="http://127.0.0.1:3000/v1", help="the local cloud's API URL")
    parser.add_argument("--stripe", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="the local Stripe URL")
    parser.add_argument("--webhook-secret", default=LOCAL_WEBHOOK_SECRET)
    args = parser.parse_args(argv)

    client = stripe.StripeClient(LOCAL_SECRET_KEY, base_addresses={"api": args.stripe})
    if args.type == "customer.subscription.deleted":
        obj = client.v1.subscriptions.cancel(args.subscription_id).to_dict()
    elif args.type.startswith("invoice."):
        subscription = client.v1.subscriptions.retrieve(args.subscription_id)
        obj = {
            "id": f"in_local_{args.type}",
            "object": "invoice",
            "customer": subscription.customer,
            "subscription": subscription.id,
        }
    else:
        obj = client.v1.subscriptions.retrieve(args.subscription_id).to_dict()
    status, answer = deliver(
        f"{args.api}/billing/stripe-webhook", *signed_event(args.type, obj, secret=args.webhook_secret)
    )
    print(f"{args.type}: {status} {answer}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
