"""Billing endpoint family: plans, Stripe Checkout and Customer Portal sessions, the tenant's
subscription, and Stripe's webhook.

The webhook route is not behind the authorizer (Stripe cannot send our credentials): the
`Stripe-Signature` over the raw body authenticates it, and the tenant comes only from our own
Billing row for the event's customer.
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from shared.auth.principal import Principal
from shared.billing import service
from shared.billing.schemas import CheckoutRequest, PlanList, PortalRequest, SessionOut, SubscriptionOut, WebhookReceipt
from shared.web import create_app, idempotency_key, make_lambda_handler, require_scope

app = create_app(
    "CryptoOrchestrator billing",
    "Plans and their limits, Stripe Checkout and Customer Portal sessions, the subscription, Stripe's webhook.",
)
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]

_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A Stripe event exactly as Stripe sent it (the signature covers these bytes).",
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}


@app.get("/billing/plans", tags=["billing"])
async def list_plans() -> PlanList:
    """Every plan and its limits (public: no credentials needed)."""
    return service.list_plans()


@app.post("/billing/checkout", tags=["billing"])
async def start_checkout(body: CheckoutRequest, caller: Admin, key: IdempotencyKey) -> SessionOut:
    """A Stripe Checkout Session URL for a subscription to `plan`. The same Idempotency-Key returns
    the same session; success and cancel URLs must be on an allowed origin."""
    return service.start_checkout(caller, body, key)


@app.post("/billing/portal", tags=["billing"])
async def open_portal(body: PortalRequest, caller: Admin) -> SessionOut:
    """A Stripe Customer Portal session URL (change plan, payment method, cancel)."""
    return service.open_portal(caller, body)


@app.get("/billing/subscription", tags=["billing"])
async def read_subscription(caller: Reader) -> SubscriptionOut:
    """The plan in force, the subscription's status and period, and usage against each limit."""
    return service.read_subscription(caller)


@app.post("/billing/stripe-webhook", tags=["billing"], openapi_extra=_RAW_BODY)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature", max_length=2000)] = None,
) -> WebhookReceipt:
    """Stripe's events (signed); each applied at most once. Unhandled types are acknowledged."""
    from shared.billing.stripe_webhooks import handle_stripe_webhook

    outcome = handle_stripe_webhook(await request.body(), stripe_signature)
    return WebhookReceipt(outcome=outcome)


lambda_handler = make_lambda_handler(app)


init_phase.complete()
