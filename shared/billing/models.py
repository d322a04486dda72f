"""The billing package's tables and their data access (the only module that reads or writes them):
Billing, StripeEvents, PlanCounters (entitlements) and Usage (metering).

Billing: one row per tenant that ever started a checkout: its Stripe customer (written once, by a
conditional write), its subscription as Stripe last told us, and when a payment failed (the grace
period). `by_customer` finds the tenant of a Stripe customer: a webhook's tenant comes from our
row, never from metadata Stripe echoes back.

StripeEvents: one row per processed Stripe event id, written in the same transaction as the
change it caused, so each event takes effect at most once, even when delivered concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.config import get_settings
from shared.persistence import BaseMeta, condition_failed, connection, get_or_none


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


# ------------------------------------------------------------------ PlanCounters (entitlements)
# The PlanCounters table: what a tenant holds or has used, per counter, so a plan limit is one
# conditional update instead of a count.
#
# Rows (`counter` is the range key):
# - `bots`: `total` bots and how many are `running`; changed only inside the transaction that
#   creates, deletes, starts, pauses or stops a bot, so it cannot drift from the Bots table.
# - `backtests#YYYY-MM`: backtest jobs accepted in that calendar month (UTC); a new month is a new
#   row, so nothing resets and past months stay readable.
# - `seats`: the tenant's users plus its pending invitations; changed in the transaction that
#   writes or removes an invitation (accepting one turns a pending seat into a user: no change).
#
# A table of its own rather than attributes on the tenant row: the Stripe side writes the tenant's
# plan, and a whole-row save from a stale read there could never clobber a counter here.

BOTS = "bots"
SEATS = "seats"


class PlanCounterRecord(Model):
    class Meta(BaseMeta):
        table_setting = "plan_counters_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    counter = UnicodeAttribute(range_key=True)
    total = NumberAttribute(default=0)
    running = NumberAttribute(null=True)  # the `bots` row only


def backtests_counter(at: datetime) -> str:
    """The row counting backtests accepted in `at`'s calendar month (UTC)."""
    return f"backtests#{at:%Y-%m}"


def get_counter(tenant_id: str, counter: str) -> PlanCounterRecord | None:
    return get_or_none(PlanCounterRecord, tenant_id, counter)


# ------------------------------------------------------------------ Usage (metering)
# A counter row per tenant, meter and UTC hour (`meter#YYYYmmddTHH`), and a marker row per counted
# source (`seen#meter#source`) written in the same transaction, so a source counts once.

Meter = Literal["signals_received", "orders_placed", "backtest_minutes"]
METERS: tuple[Meter, ...] = ("signals_received", "orders_placed", "backtest_minutes")
PENDING = "pending"
KEEP = timedelta(days=35)


class UnreportedIndex(GlobalSecondaryIndex["UsageRecord"]):  # type: ignore[no-untyped-call]
    """Sparse: windows with usage not yet reported carry `report_shard`."""

    class Meta:
        index_name = "unreported"
        projection = AllProjection()

    report_shard = UnicodeAttribute(hash_key=True)
    window_start = UTCDateTimeAttribute(range_key=True)


class UsageRecord(Model):
    """A counter (`window_key` = `meter#YYYYmmddTHH`) or a counted-source marker (`seen#...`)."""

    class Meta(BaseMeta):
        table_setting = "usage_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    window_key = UnicodeAttribute(range_key=True)
    meter = UnicodeAttribute(null=True)
    window_start = UTCDateTimeAttribute(null=True)
    total = NumberAttribute(default=0)
    report_shard = UnicodeAttribute(null=True)
    reported_value = NumberAttribute(null=True)
    reported_at = UTCDateTimeAttribute(null=True)
    expires_at = NumberAttribute()  # TTL

    unreported = UnreportedIndex()


def window_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _window_key(meter: str, start: datetime) -> str:
    return f"{meter}#{start:%Y%m%dT%H}"


def record_usage(tenant_id: str, meter: Meter, source_id: str, amount: int, now: datetime) -> bool:
    """Count `amount` for `source_id` in the current window, once; False when already counted."""
    start = window_of(now)
    expires = int((now + KEEP).timestamp())
    counter = UsageRecord(tenant_id, _window_key(meter, start))
    marker = UsageRecord(tenant_id, f"seen#{meter}#{source_id}", expires_at=expires)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(marker, condition=UsageRecord.window_key.does_not_exist())
            tx.update(
                counter,
                actions=[
                    UsageRecord.total.add(amount),
                    UsageRecord.meter.set(meter),
                    UsageRecord.window_start.set(start),
                    UsageRecord.report_shard.set(PENDING),
                    UsageRecord.expires_at.set(expires),
                ],
            )
    except TransactWriteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def usage_in_window(tenant_id: str, meter: Meter, moment: datetime) -> int:
    row = get_or_none(UsageRecord, tenant_id, _window_key(meter, window_of(moment)))
    return int(row.total) if row is not None else 0


def unreported_windows(cutoff: datetime) -> Iterator[UsageRecord]:
    """Counters not yet reported whose window started at or before `cutoff`."""
    return UsageRecord.unreported.query(PENDING, UsageRecord.window_start <= cutoff)


def mark_reported(row: UsageRecord, now: datetime) -> None:
    try:
        row.update(
            actions=[
                UsageRecord.report_shard.remove(),
                UsageRecord.reported_value.set(row.total),
                UsageRecord.reported_at.set(now),
            ],
            condition=UsageRecord.total == row.total,
        )
    except UpdateError as exc:  # pragma: no cover - a settled window does not change
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
