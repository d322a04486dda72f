"""Usage metering: signals received, orders placed and backtest minutes, counted per tenant per
hourly window in the Usage table, and reported to Stripe as billing meter events once a window
has closed.

Counting is idempotent per source id (the signal, order or backtest): a marker row and the
counter's atomic ADD are written in one transaction, so a retried task never counts twice.
Reporting is idempotent per window: the meter event's `identifier` is `tenant:meter:window`, which
Stripe accepts once, and the request carries the same Idempotency-Key, so a reporter that dies
between sending and marking the window reported cannot bill it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.persistence import BaseMeta, condition_failed, connection, get_or_none

Meter = Literal["signals_received", "orders_placed", "backtest_minutes"]
METERS: tuple[Meter, ...] = ("signals_received", "orders_placed", "backtest_minutes")
PENDING = "pending"
# A window is reported this long after it closed: increments computed just before the hour
# turned may still be in flight.
SETTLE = timedelta(minutes=5)
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


@dataclass(frozen=True)
class ReportOutcome:
    reported: int = 0
    skipped: int = 0  # tenants with no Stripe customer: nothing to bill


def meter_event_identifier(tenant_id: str, meter: str, start: datetime) -> str:
    return f"{tenant_id}:{meter}:{start:%Y%m%dT%H}"


def report_closed_windows(now: datetime) -> ReportOutcome:
    """Send every settled, unreported window to Stripe as one meter event, then mark it reported."""
    from shared.billing.models import get_billing
    from shared.billing.stripe_client import stripe_client, translated_stripe_error

    reported = skipped = 0
    cutoff = window_of(now - SETTLE) - timedelta(microseconds=1)  # windows that closed SETTLE ago
    for row in UsageRecord.unreported.query(PENDING, UsageRecord.window_start <= cutoff):
        if row.window_start is None or row.meter is None:  # pragma: no cover - counters always carry both
            continue
        billing = get_billing(row.tenant_id)
        if billing is not None and billing.stripe_customer_id:
            identifier = meter_event_identifier(row.tenant_id, row.meter, row.window_start)
            client = stripe_client()
            try:
                client.v1.billing.meter_events.create(
                    {
                        "event_name": row.meter,
                        "identifier": identifier,
                        "timestamp": int(row.window_start.timestamp()),
                        "payload": {"stripe_customer_id": billing.stripe_customer_id, "value": str(int(row.total))},
                    },
                    {"idempotency_key": identifier},
                )
            except Exception as exc:
                raise translated_stripe_error(exc) from exc
            reported += 1
        else:
            skipped += 1
        _mark_reported(row, now)
    return ReportOutcome(reported, skipped)


def _mark_reported(row: UsageRecord, now: datetime) -> None:
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
