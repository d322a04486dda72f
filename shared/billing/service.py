"""The billing use cases behind billing_api: plans, checkout, the customer portal and the
subscription view. Stripe calls carry deterministic idempotency keys, so a retried request never
creates a second customer or checkout session.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import urlsplit

from shared.auth.principal import Principal
from shared.billing.models import BillingRecord, claim_customer, get_billing
from shared.billing.plans import PLAN_ORDER, PLANS, PlanName, plan_named
from shared.billing.schemas import (
    CheckoutRequest,
    LimitsOut,
    PlanList,
    PlanOut,
    PortalRequest,
    SessionOut,
    SubscriptionOut,
    UsageOut,
)
from shared.billing.stripe_client import stripe_client, translated_stripe_error
from shared.billing.subscriptions import PAID_STATUSES, effective_plan, grace_ends, price_of_plan
from shared.billing.usage import current_usage
from shared.clock import utc_now
from shared.config import get_settings
from shared.errors import Conflict, ValidationFailed


def list_plans() -> PlanList:
    return PlanList(
        plans=[
            PlanOut(
                name=name,
                title=PLANS[name].title,
                limits=LimitsOut(**vars(PLANS[name].limits)),
                purchasable=bool(price_of_plan(name)),
            )
            for name in PLAN_ORDER
        ]
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _check_origins(*urls: str) -> None:
    """Stripe redirects the buyer to these URLs: only our own front ends may receive them."""
    allowed = {o.strip().rstrip("/").lower() for o in get_settings().billing_allowed_origins.split(",") if o.strip()}
    for url in urls:
        if _origin(url) not in allowed:
            raise ValidationFailed(
                "the URL is not on an allowed origin", code="origin_not_allowed", details={"url_origin": _origin(url)}
            )


def _stripe_key(*parts: str) -> str:
    """A Stripe idempotency key from our business ids (Stripe keeps keys for 24 h)."""
    return "co-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def ensure_customer(tenant_id: str, now: datetime) -> str:
    """The tenant's Stripe customer, created at most once: the Stripe call is idempotent per
    tenant and the row is claimed with a conditional write (a concurrent loser adopts the winner's)."""
    row = get_billing(tenant_id)
    if row is not None and row.stripe_customer_id:
        return row.stripe_customer_id
    client = stripe_client()  # a missing key is a configuration error, not Stripe's
    try:
        customer = client.v1.customers.create(
            {"metadata": {"tenant_id": tenant_id}, "description": f"CryptoOrchestrator tenant {tenant_id}"},
            {"idempotency_key": _stripe_key("customer", tenant_id)},
        )
    except Exception as exc:
        raise translated_stripe_error(exc) from exc
    return claim_customer(tenant_id, customer.id, now)


def start_checkout(caller: Principal, body: CheckoutRequest, attempt: str) -> SessionOut:
    """A Checkout Session in subscription mode for `body.plan`; `attempt` (the request's
    Idempotency-Key) makes a retry return the same session."""
    _check_origins(body.success_url, body.cancel_url)
    price = price_of_plan(body.plan)
    if not price:
        raise ValidationFailed(f"the {body.plan} plan is not sold here", details={"plan": body.plan})
    row = get_billing(caller.tenant_id)
    if row is not None and row.subscription_id and row.status in PAID_STATUSES:
        raise Conflict("the tenant already has a subscription; change plans in the portal", code="already_subscribed")
    customer_id = ensure_customer(caller.tenant_id, utc_now())
    metadata = {"tenant_id": caller.tenant_id, "plan": body.plan}
    client = stripe_client()  # a missing key is a configuration error, not Stripe's
    try:
        session = client.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": caller.tenant_id,
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": body.success_url,
                "cancel_url": body.cancel_url,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
            },
            {"idempotency_key": _stripe_key("checkout", caller.tenant_id, body.plan, attempt)},
        )
    except Exception as exc:
        raise translated_stripe_error(exc) from exc
    return SessionOut(id=session.id, url=str(session.url))


def open_portal(caller: Principal, body: PortalRequest) -> SessionOut:
    """A Customer Portal session for the tenant's own customer (never one named by the client)."""
    _check_origins(body.return_url)
    row = get_billing(caller.tenant_id)
    if row is None or not row.stripe_customer_id:
        raise Conflict("no subscription has been started yet; use checkout first", code="no_billing_customer")
    client = stripe_client()  # a missing key is a configuration error, not Stripe's
    try:
        session = client.v1.billing_portal.sessions.create(
            {"customer": row.stripe_customer_id, "return_url": body.return_url}
        )
    except Exception as exc:
        raise translated_stripe_error(exc) from exc
    return SessionOut(id=session.id, url=str(session.url))


def read_subscription(caller: Principal) -> SubscriptionOut:
    now = utc_now()
    row = get_billing(caller.tenant_id) or BillingRecord(caller.tenant_id)
    plan: PlanName = effective_plan(row.plan, row.status, row.payment_failed_at, now)
    limits = PLANS[plan].limits
    used = current_usage(caller.tenant_id)
    return SubscriptionOut(
        plan=plan,
        subscribed_plan=plan_named(row.plan).name,
        status=row.status,
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        cancel_at_period_end=bool(row.cancel_at_period_end),
        payment_failed_at=row.payment_failed_at,
        grace_until=grace_ends(row.payment_failed_at) if row.payment_failed_at else None,
        usage=[UsageOut(limit=name, used=count, allowed=getattr(limits, name)) for name, count in used.items()],
    )
