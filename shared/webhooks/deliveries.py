"""The WebhookDeliveries table: one row per delivery (an event sent to one subscription, or a
replay of it), holding every attempt: when, status code, latency, error class, next retry.

Rows live `events_retention_days` (TTL), like the events they carry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta


class DeliveryStatus(StrEnum):
    RETRYING = "retrying"  # failed so far; the next attempt is queued
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the retry window
    GONE = "gone"  # the endpoint answered 410: the subscription was disabled
    SKIPPED = "skipped"  # the subscription was disabled or deleted before this attempt


class AttemptAttribute(MapAttribute[str, object]):
    at = UTCDateTimeAttribute()
    status_code = NumberAttribute(null=True)
    latency_ms = NumberAttribute()
    error = UnicodeAttribute(null=True)  # an error class (`timeout`, `http_error`, ...), never a secret
    next_retry_at = UTCDateTimeAttribute(null=True)


class WebhookDeliveryRecord(Model):
    class Meta(BaseMeta):
        table_name = get_settings().webhook_deliveries_table

    tenant_id = UnicodeAttribute(hash_key=True)
    delivery_key = UnicodeAttribute(range_key=True)  # "{subscription_id}#{delivery_id}", time-ordered
    subscription_id = UnicodeAttribute()
    delivery_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    replay = BooleanAttribute(default=False)
    status = UnicodeAttribute()
    attempt_count = NumberAttribute(default=0)
    first_attempt_at = UTCDateTimeAttribute()
    last_attempt_at = UTCDateTimeAttribute()
    next_retry_at = UTCDateTimeAttribute(null=True)
    attempts = ListAttribute(of=AttemptAttribute)
    expires_at = TTLAttribute()


def attempt(*, at: datetime, status_code: int | None, latency_ms: float, error: str | None) -> AttemptAttribute:
    return AttemptAttribute(at=at, status_code=status_code, latency_ms=latency_ms, error=error)  # type: ignore[no-untyped-call]


def delivery_key(subscription_id: str, delivery_id: str) -> str:
    return f"{subscription_id}#{delivery_id}"


def record_attempt(
    *,
    tenant_id: str,
    subscription_id: str,
    delivery_id: str,
    event_id: str,
    event_type: str,
    replay: bool,
    status: DeliveryStatus,
    attempt: AttemptAttribute,
    first_attempt_at: datetime,
) -> None:
    """Append one attempt to the delivery's row (creating it on the first), in one UpdateItem."""
    retention = timedelta(days=get_settings().events_retention_days)
    row = WebhookDeliveryRecord(tenant_id=tenant_id, delivery_key=delivery_key(subscription_id, delivery_id))
    record = WebhookDeliveryRecord
    row.update(
        actions=[
            record.subscription_id.set(subscription_id),
            record.delivery_id.set(delivery_id),
            record.event_id.set(event_id),
            record.event_type.set(event_type),
            record.replay.set(replay),
            record.status.set(status.value),
            record.attempt_count.add(1),
            record.first_attempt_at.set(record.first_attempt_at | first_attempt_at),
            record.last_attempt_at.set(attempt.at),
            record.next_retry_at.set(attempt.next_retry_at) if attempt.next_retry_at else record.next_retry_at.remove(),
            record.attempts.set((record.attempts | []).append([attempt])),
            record.expires_at.set(attempt.at + retention),
        ]
    )


def list_deliveries(
    tenant_id: str, subscription_id: str, *, limit: int, before: str | None
) -> tuple[list[WebhookDeliveryRecord], bool]:
    """Newest first: up to `limit` deliveries of one subscription before key `before`."""
    prefix = f"{subscription_id}#"
    condition = (
        WebhookDeliveryRecord.delivery_key.between(prefix, before)
        if before
        else WebhookDeliveryRecord.delivery_key.startswith(prefix)
    )
    rows = [
        r
        for r in WebhookDeliveryRecord.query(
            tenant_id, condition, scan_index_forward=False, limit=limit + 2, consistent_read=True
        )
        if r.delivery_key != before
    ]
    return rows[:limit], len(rows) > limit
