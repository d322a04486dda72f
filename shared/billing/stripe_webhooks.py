"""Stripe's webhooks: verified, applied at most once per event id, independent of arrival order.

The tenant is the owner of our Billing row for the event's customer (never metadata alone). The
subscription is re-fetched from Stripe, so an old event applies today's state: `updated` arriving
before `created`, or a redelivery days later, cannot roll a plan back. Invoice events only move the
payment state forward (by their `created` time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.billing.models import BillingRecord, event_processed, tenant_of_customer
from shared.billing.plan_changes import StripeEventMark, commit_billing_change, enforce_after_redelivery
from shared.billing.stripe_client import stripe_client, translated_stripe_error, verified_event
from shared.billing.subscriptions import PAID_STATUSES, state_of
from shared.clock import utc_now
from shared.observability import logger

HANDLED = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.deleted",
    }
)


def handle_stripe_webhook(payload: bytes, signature: str | None) -> str:
    """Verify and apply one delivery; returns `processed`, `duplicate` or `ignored` (all 200s:
    Stripe retries only what failed, and a refusal of ours is a 4xx raised from here)."""
    event = verified_event(payload, signature)
    if event.type not in HANDLED:
        return "ignored"
    obj: dict[str, Any] = event.data.object.to_dict()  # plain data: StripeObject is no Mapping
    customer_id = obj.get("id") if event.type == "customer.deleted" else obj.get("customer")
    if event_processed(event.id):
        row = tenant_of_customer(str(customer_id)) if isinstance(customer_id, str) else None
        if row is not None:
            enforce_after_redelivery(row.tenant_id)
        return "duplicate"
    row = tenant_of_customer(str(customer_id)) if isinstance(customer_id, str) else None
    if row is None:
        logger.info("stripe event for no customer of ours", extra={"stripe_event_type": event.type})
        return "ignored"
    now = utc_now()
    changes = _changes(event.type, obj, row, datetime.fromtimestamp(int(event.created), UTC))
    invoice_id = str(obj["id"]) if event.type.startswith("invoice.") else None
    mark = StripeEventMark(event.id, event.type)
    applied = commit_billing_change(
        row, changes, reason=f"stripe:{event.type}", now=now, mark=mark, invoice_id=invoice_id
    )
    return "processed" if applied else "duplicate"


def _subscription_id(event_type: str, obj: Mapping[str, Any]) -> str | None:
    if event_type.startswith("customer.subscription."):
        return str(obj["id"])
    if event_type == "checkout.session.completed":
        value = obj.get("subscription")
    else:  # invoices: top-level in older API versions, under `parent` since 2025-03-31
        value = obj.get("subscription") or (
            ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        )
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None


def _changes(event_type: str, obj: Mapping[str, Any], row: BillingRecord, created: datetime) -> dict[str, Any]:
    """The Billing row fields this event changes, from Stripe's current state."""
    if event_type == "customer.deleted":
        return {
            "stripe_customer_id": None,
            "subscription_id": None,
            "status": "canceled",
            "plan": "free",
            "cancel_at_period_end": False,
            "payment_failed_at": None,
        }
    changes: dict[str, Any] = {}
    if event_type == "checkout.session.completed" and obj.get("client_reference_id") not in (None, row.tenant_id):
        logger.warning("checkout session names another tenant than its customer's; ignored")
        return changes
    subscription_id = _subscription_id(event_type, obj)
    if subscription_id is not None:
        changes.update(_subscription_changes(subscription_id, row))
    if event_type in ("invoice.paid", "invoice.payment_failed"):
        seen = int(created.timestamp())
        if seen >= row.payment_event_at:
            changes["payment_event_at"] = seen
            if event_type == "invoice.paid":
                changes["payment_failed_at"] = None
            elif row.payment_failed_at is None:
                changes["payment_failed_at"] = created
    return changes


def _subscription_changes(subscription_id: str, row: BillingRecord) -> dict[str, Any]:
    client = stripe_client()  # a missing key is a configuration error, not Stripe's
    try:
        fetched = client.v1.subscriptions.retrieve(subscription_id)
    except Exception as exc:
        raise translated_stripe_error(exc) from exc
    state = state_of(fetched.to_dict())
    if state.customer_id != row.stripe_customer_id:
        logger.warning("subscription of another customer; ignored")
        return {}
    if row.subscription_id not in (None, state.subscription_id) and state.status not in PAID_STATUSES:
        return {}  # an older subscription ending does not end the current one
    return {
        "subscription_id": state.subscription_id,
        "price_id": state.price_id,
        "plan": state.plan,
        "status": state.status,
        "current_period_start": state.current_period_start,
        "current_period_end": state.current_period_end,
        "cancel_at_period_end": state.cancel_at_period_end,
    }
