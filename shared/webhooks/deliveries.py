"""The WebhookDeliveries table: one row per delivery (an event sent to one subscription, or a
replay of it), holding every attempt: when, status code, latency, error class, next retry.

Rows live `events_retention_days` (TTL), like the events they carry.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import TypeAdapter
from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta, get_or_none
from shared.webhooks.delivery_tasks import AttemptLog, DeliveryTask


class DeliveryStatus(StrEnum):
    RETRYING = "retrying"  # failed so far; the next attempt is queued
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the retry window
    GONE = "gone"  # the endpoint answered 410: the subscription was disabled
    SKIPPED = "skipped"  # the subscription was disabled or deleted before this attempt
    DEFERRED = "deferred"  # not attempted: the endpoint is paused after a timeout (never stored)


class WebhookDeliveryRecord(Model):
    class Meta(BaseMeta):
        table_setting = "webhook_deliveries_table"

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
    attempts_json = UnicodeAttribute()  # JSON list of AttemptLog, oldest first
    expires_at = TTLAttribute()

    def attempts(self) -> list[AttemptLog]:
        return _ATTEMPTS.validate_json(self.attempts_json)


_ATTEMPTS = TypeAdapter(list[AttemptLog])


def delivery_key(subscription_id: str, delivery_id: str) -> str:
    return f"{subscription_id}#{delivery_id}"


def save(task: DeliveryTask, status: DeliveryStatus, attempts: list[AttemptLog]) -> None:
    """Write the delivery's row after an attempt: one PutItem of the whole history, which the
    task carries from attempt to attempt (no read, no update expression)."""
    retention = timedelta(days=get_settings().events_retention_days)
    last = attempts[-1]
    WebhookDeliveryRecord(
        tenant_id=task.tenant_id,
        delivery_key=delivery_key(task.subscription_id, task.delivery_id),
        subscription_id=task.subscription_id,
        delivery_id=task.delivery_id,
        event_id=task.event.id,
        event_type=task.event.type,
        replay=task.replay,
        status=status.value,
        attempt_count=len(attempts),
        first_attempt_at=attempts[0].at,
        last_attempt_at=last.at,
        next_retry_at=last.next_retry_at,
        attempts_json=_ATTEMPTS.dump_json(attempts).decode(),
        expires_at=last.at + retention,
    ).save()


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


def get_delivery(tenant_id: str, subscription_id: str, delivery_id: str) -> WebhookDeliveryRecord | None:
    return get_or_none(WebhookDeliveryRecord, tenant_id, delivery_key(subscription_id, delivery_id))
