"""The Billing and StripeEvents tables and their data access (the only module that reads or writes them).

Billing: one row per tenant that ever started a checkout: its Stripe customer (written once, by a
conditional write), its subscription as Stripe last told us, and when a payment failed (the grace
period). `by_customer` finds the tenant of a Stripe customer: a webhook's tenant comes from our
row, never from metadata Stripe echoes back.

StripeEvents: one row per processed Stripe event id, written in the same transaction as the
change it caused, so each event takes effect at most once, even when delivered concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.config import get_settings
from shared.persistence import BaseMeta, get_or_none


class CustomerIndex(GlobalSecondaryIndex["BillingRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_customer"
        projection = KeysOnlyProjection()

    stripe_customer_id = UnicodeAttribute(hash_key=True)


class GraceIndex(GlobalSecondaryIndex["BillingRecord"]):  # type: ignore[no-untyped-call]
    """Sparse: only rows whose failed payment still holds a paid plan carry `grace_shard`."""

    class Meta:
        index_name = "grace"
        projection = KeysOnlyProjection()

    grace_shard = UnicodeAttribute(hash_key=True)
    payment_failed_at = UTCDateTimeAttribute(range_key=True)


class BillingRecord(Model):
    class Meta(BaseMeta):
        table_setting = "billing_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    stripe_customer_id = UnicodeAttribute(null=True)
    subscription_id = UnicodeAttribute(null=True)
    price_id = UnicodeAttribute(null=True)
    plan = UnicodeAttribute(default="free")  # what the subscription pays for (the tenant's plan may be lower)
    status = UnicodeAttribute(null=True)  # active | trialing | past_due | canceled | incomplete
    current_period_start = UTCDateTimeAttribute(null=True)
    current_period_end = UTCDateTimeAttribute(null=True)
    cancel_at_period_end = BooleanAttribute(default=False)
    payment_failed_at = UTCDateTimeAttribute(null=True)  # set while the latest invoice is unpaid
    payment_event_at = NumberAttribute(default=0)  # `created` of the newest invoice event applied
    updated_at = UTCDateTimeAttribute(null=True)
    grace_shard = UnicodeAttribute(null=True)  # GRACE_SHARD while in a grace period (the `grace` index)

    by_customer = CustomerIndex()
    grace = GraceIndex()


GRACE_SHARD = "grace"


class StripeEventRecord(Model):
    class Meta(BaseMeta):
        table_setting = "stripe_events_table"

    event_id = UnicodeAttribute(hash_key=True)
    event_type = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute()
    processed_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute()  # TTL (epoch seconds): Stripe stops retrying after 3 days


def get_billing(tenant_id: str) -> BillingRecord | None:
    return get_or_none(BillingRecord, tenant_id)


def claim_customer(tenant_id: str, customer_id: str, now: datetime) -> str:
    """Record `customer_id` as the tenant's Stripe customer unless one is already recorded;
    returns the one that is recorded (ours, or the one another request wrote first)."""
    row = BillingRecord(tenant_id)
    try:
        row.update(
            actions=[BillingRecord.stripe_customer_id.set(customer_id), BillingRecord.updated_at.set(now)],
            condition=BillingRecord.stripe_customer_id.does_not_exist(),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        existing = get_billing(tenant_id)
        if existing is None or existing.stripe_customer_id is None:  # pragma: no cover - the condition said it exists
            raise
        return existing.stripe_customer_id
    return customer_id


def tenant_of_customer(customer_id: str) -> BillingRecord | None:
    """Our row for this Stripe customer (one Query on the index, then one consistent GetItem)."""
    for key in BillingRecord.by_customer.query(customer_id, limit=1):
        row = get_billing(key.tenant_id)
        if row is not None and row.stripe_customer_id == customer_id:
            return row
    return None


def grace_expired_before(cutoff: datetime) -> Iterator[str]:
    """Tenants whose failed payment is older than `cutoff` and who still hold a paid plan."""
    for key in BillingRecord.grace.query(GRACE_SHARD, BillingRecord.payment_failed_at <= cutoff):
        yield key.tenant_id


def event_processed(event_id: str) -> bool:
    return get_or_none(StripeEventRecord, event_id) is not None


def stage_event_processed(
    tx: TransactWrite, event_id: str, event_type: str, tenant_id: str | None, outcome: str, now: datetime
) -> None:
    """Mark the event processed inside the caller's transaction; fails it if it already was."""
    days = get_settings().stripe_events_retention_days
    record = StripeEventRecord(
        event_id,
        event_type=event_type,
        tenant_id=tenant_id,
        outcome=outcome,
        processed_at=now,
        expires_at=int((now + timedelta(days=days)).timestamp()),
    )
    tx.save(record, condition=StripeEventRecord.event_id.does_not_exist())
