"""The WebhookSubscriptions table: a tenant's webhook endpoints (and, under `es_` ids, its SNS
event streams), and the only module that reads or writes it.

A subscription holds its signing secret (and, for the overlap window after a rotation, the
previous one), sealed with KMS envelope encryption (see signing_secrets.py). Rows written before
secrets were sealed hold them in plaintext (`secret`, `previous_secret`): they are read as they
are (read-both), sealed at their next rotation, and `seal_legacy_secrets` (run by
`python -m tools.seal_webhook_secrets`) seals them all at once. Secrets are returned by the API
only when created or rotated and never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.config import get_settings
from shared.errors import Conflict
from shared.events.data import EventData
from shared.events.data.webhooks import WebhookDeliveryFailedData, WebhookDisabledData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.persistence import BaseMeta, condition_failed, get_or_none
from shared.webhooks.signing_secrets import open_sealed, seal

WEBHOOK_PREFIX = "wh_"
STREAM_PREFIX = "es_"
SOURCE = "cryptoorchestrator.webhooks"


class SubscriptionStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class WebhookSubscriptionRecord(Model):
    class Meta(BaseMeta):
        table_setting = "webhook_subscriptions_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    subscription_id = UnicodeAttribute(range_key=True)
    url = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    event_types = UnicodeSetAttribute()
    secret_sealed = UnicodeAttribute(null=True)  # KMS-encrypted (context tenant_id, subscription_id)
    previous_secret_sealed = UnicodeAttribute(null=True)
    secret = UnicodeAttribute(null=True)  # legacy plaintext: rows written before secrets were sealed
    previous_secret = UnicodeAttribute(null=True)  # legacy plaintext
    previous_secret_expires_at = UTCDateTimeAttribute(null=True)
    status = UnicodeAttribute(default=SubscriptionStatus.ENABLED.value)
    disabled_reason = UnicodeAttribute(null=True)
    disabled_at = UTCDateTimeAttribute(null=True)
    consecutive_failures = NumberAttribute(default=0)
    # Circuit breaker: after a delivery timed out, no attempt is made until `paused_until` (one
    # probe then claims the next window), so a dead endpoint costs one 10 s wait per window
    # instead of one per event.
    paused_until = UTCDateTimeAttribute(null=True)
    timeouts_in_row = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @property
    def patterns(self) -> list[str]:
        return sorted(self.event_types or ())

    @property
    def enabled(self) -> bool:
        return self.status == SubscriptionStatus.ENABLED.value

    def _opened(self, sealed: str | None, legacy: str | None) -> str | None:
        if sealed:
            return open_sealed(self.tenant_id, self.subscription_id, sealed)
        return legacy or None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one while its
        overlap window lasts (the signature header then carries both). Sealed ones are opened
        (cached); a legacy row's plaintext is used as it is."""
        current = self._opened(self.secret_sealed, self.secret)
        if current is None:
            raise ValueError("the subscription holds no signing secret")
        secrets = [current]
        if self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            previous = self._opened(self.previous_secret_sealed, self.previous_secret)
            if previous is not None:
                secrets.append(previous)
        return secrets


class EventStreamRecord(Model):
    """An SNS subscription on the domain-events topic that a tenant created (ids `es_...`)."""

    class Meta(BaseMeta):
        table_setting = "webhook_subscriptions_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    subscription_id = UnicodeAttribute(range_key=True)
    protocol = UnicodeAttribute()
    endpoint = UnicodeAttribute()
    event_types = UnicodeSetAttribute()
    sns_subscription_arn = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @property
    def patterns(self) -> list[str]:
        return sorted(self.event_types or ())


def get_subscription(tenant_id: str, subscription_id: str) -> WebhookSubscriptionRecord | None:
    if not subscription_id.startswith(WEBHOOK_PREFIX):
        return None
    return get_or_none(WebhookSubscriptionRecord, tenant_id, subscription_id)


def list_subscriptions(
    tenant_id: str, *, limit: int, after: str | None
) -> tuple[list[WebhookSubscriptionRecord], bool]:
    condition = (
        WebhookSubscriptionRecord.subscription_id > after
        if after
        else WebhookSubscriptionRecord.subscription_id.startswith(WEBHOOK_PREFIX)
    )
    rows = [
        r
        for r in WebhookSubscriptionRecord.query(tenant_id, condition, limit=limit + 1)
        if r.subscription_id.startswith(WEBHOOK_PREFIX)
    ]
    return rows[:limit], len(rows) > limit


def tenant_subscriptions(tenant_id: str) -> list[WebhookSubscriptionRecord]:
    """Every webhook subscription of the tenant (one Query; bounded by webhooks_max_subscriptions)."""
    return list(
        WebhookSubscriptionRecord.query(tenant_id, WebhookSubscriptionRecord.subscription_id.startswith(WEBHOOK_PREFIX))
    )


def count_subscriptions(tenant_id: str, prefix: str) -> int:
    return int(WebhookSubscriptionRecord.count(tenant_id, WebhookSubscriptionRecord.subscription_id.startswith(prefix)))


def insert(record: WebhookSubscriptionRecord | EventStreamRecord) -> None:
    record.save(condition=type(record).subscription_id.does_not_exist())


def save_existing(record: WebhookSubscriptionRecord) -> None:
    """Write back a changed row, only if it still exists (a concurrent delete wins)."""
    try:
        record.save(condition=WebhookSubscriptionRecord.subscription_id.exists())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("the subscription was deleted meanwhile", code="concurrent_modification") from exc
        raise


def rotate_secret(record: WebhookSubscriptionRecord, new_secret: str, now: datetime) -> None:
    """The new secret signs from now on; the current one becomes the previous one for the overlap
    window. Both are stored sealed (a legacy plaintext current secret is sealed on the way, and no
    plaintext is left on the row)."""
    overlap = timedelta(hours=get_settings().webhooks_secret_overlap_hours)
    if record.secret_sealed:
        record.previous_secret_sealed = record.secret_sealed
    elif record.secret:
        record.previous_secret_sealed = seal(record.tenant_id, record.subscription_id, record.secret)
    record.previous_secret_expires_at = now + overlap
    record.secret_sealed = seal(record.tenant_id, record.subscription_id, new_secret)
    record.secret = None
    record.previous_secret = None
    record.updated_at = now
    save_existing(record)


def seal_legacy_secrets() -> int:
    """Seal every plaintext secret left on rows written before sealing (the one-off migration;
    running it twice does nothing more). Each row is rewritten only if its plaintext is still what
    was read, so a rotation meanwhile wins. Returns how many rows were sealed."""
    sealed = 0
    legacy = WebhookSubscriptionRecord.scan(
        WebhookSubscriptionRecord.subscription_id.startswith(WEBHOOK_PREFIX)
        & (WebhookSubscriptionRecord.secret.exists() | WebhookSubscriptionRecord.previous_secret.exists())
    )
    for record in legacy:
        actions: list[Action] = []
        condition = WebhookSubscriptionRecord.subscription_id.exists()
        if record.secret:
            actions += [
                WebhookSubscriptionRecord.secret_sealed.set(
                    seal(record.tenant_id, record.subscription_id, record.secret)
                ),
                WebhookSubscriptionRecord.secret.remove(),
            ]
            condition &= WebhookSubscriptionRecord.secret == record.secret
        if record.previous_secret:
            previous = seal(record.tenant_id, record.subscription_id, record.previous_secret)
            actions += [
                WebhookSubscriptionRecord.previous_secret_sealed.set(previous),
                WebhookSubscriptionRecord.previous_secret.remove(),
            ]
            condition &= WebhookSubscriptionRecord.previous_secret == record.previous_secret
        try:
            record.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                continue  # rotated or deleted meanwhile: nothing plaintext left to seal
            raise
        sealed += 1
    return sealed


PAUSE_FIRST_SECONDS = 30
PAUSE_MAX_SECONDS = 900


def claim_probe(record: WebhookSubscriptionRecord, now: datetime, lease: timedelta) -> bool:
    """After a pause ran out, let exactly one delivery try the endpoint: the winner pushes the
    pause `lease` ahead (the others keep deferring while it finds out)."""
    try:
        record.update(
            actions=[WebhookSubscriptionRecord.paused_until.set(now + lease)],
            condition=WebhookSubscriptionRecord.paused_until <= now,
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def pause_after_timeout(record: WebhookSubscriptionRecord, now: datetime) -> datetime:
    """The endpoint timed out: pause its deliveries, 30 s doubling per timeout in a row, <= 15 min."""
    in_row = int(record.timeouts_in_row or 0)
    until = now + timedelta(seconds=min(PAUSE_MAX_SECONDS, PAUSE_FIRST_SECONDS * 2 ** min(in_row, 10)))
    record.update(
        actions=[WebhookSubscriptionRecord.paused_until.set(until), WebhookSubscriptionRecord.timeouts_in_row.add(1)],
        condition=WebhookSubscriptionRecord.subscription_id.exists(),
    )
    return until


def mark_responding(record: WebhookSubscriptionRecord, *, delivered: bool) -> None:
    """The endpoint answered: end any pause; a 2xx also ends the run of failed deliveries.
    Writes only when something changes (most deliveries cost no write here)."""
    actions: list[Action] = []
    if record.paused_until is not None or int(record.timeouts_in_row or 0):
        actions += [WebhookSubscriptionRecord.paused_until.remove(), WebhookSubscriptionRecord.timeouts_in_row.set(0)]
    if delivered and int(record.consecutive_failures or 0):
        actions.append(WebhookSubscriptionRecord.consecutive_failures.set(0))
    if actions:
        record.update(actions=actions, condition=WebhookSubscriptionRecord.subscription_id.exists())


def _disabled_event(record: WebhookSubscriptionRecord, reason: str, failures: int) -> EventData:
    return WebhookDisabledData(subscription_id=record.subscription_id, reason=reason, consecutive_failures=failures)


def disable(record: WebhookSubscriptionRecord, reason: str, now: datetime) -> bool:
    """Disable an enabled subscription and publish `webhook.disabled` (once: a concurrent
    disable finds it already disabled and does nothing). Returns whether this call disabled it."""
    failures = int(record.consecutive_failures or 0)
    event = new_event(
        "webhook.disabled", tenant_id=record.tenant_id, source=SOURCE, data=_disabled_event(record, reason, failures)
    )

    def stage(tx: TransactWrite) -> None:
        tx.update(
            record,
            actions=_disable_actions(reason, now),
            condition=WebhookSubscriptionRecord.status == SubscriptionStatus.ENABLED.value,
        )

    try:
        commit_with_events(stage, [event])
    except TransactWriteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def _disable_actions(reason: str, now: datetime) -> list[Action]:
    return [
        WebhookSubscriptionRecord.status.set(SubscriptionStatus.DISABLED.value),
        WebhookSubscriptionRecord.disabled_reason.set(reason),
        WebhookSubscriptionRecord.disabled_at.set(now),
        WebhookSubscriptionRecord.updated_at.set(now),
    ]


def record_failed_delivery(record: WebhookSubscriptionRecord, failed: WebhookDeliveryFailedData, now: datetime) -> bool:
    """Count one more failed delivery and publish `webhook.delivery_failed`; at the configured
    number in a row, disable the subscription (with `webhook.disabled`) in the same transaction.
    Returns whether the subscription was disabled by this call."""
    failures = int(record.consecutive_failures or 0) + 1
    limit = get_settings().webhooks_disable_after_failures
    events = [new_event("webhook.delivery_failed", tenant_id=record.tenant_id, source=SOURCE, data=failed)]
    disabling = failures >= limit and record.enabled
    reason = f"{failures} deliveries in a row failed"
    if disabling:
        events.append(
            new_event(
                "webhook.disabled",
                tenant_id=record.tenant_id,
                source=SOURCE,
                data=_disabled_event(record, reason, failures),
            )
        )

    def stage(tx: TransactWrite) -> None:
        actions: list[Action] = [WebhookSubscriptionRecord.consecutive_failures.add(1)]
        condition = WebhookSubscriptionRecord.subscription_id.exists()
        if disabling:
            actions += _disable_actions(reason, now)
            condition &= WebhookSubscriptionRecord.status == SubscriptionStatus.ENABLED.value
        tx.update(record, actions=actions, condition=condition)

    try:
        commit_with_events(stage, events)
    except TransactWriteError as exc:
        if not condition_failed(exc):
            raise
        if not disabling:
            return False  # deleted meanwhile: nothing to count
        # someone else disabled it first: still count the failure and say so
        return record_failed_delivery_without_disable(record, failed)
    return disabling


def record_failed_delivery_without_disable(
    record: WebhookSubscriptionRecord, failed: WebhookDeliveryFailedData
) -> bool:
    event = new_event("webhook.delivery_failed", tenant_id=record.tenant_id, source=SOURCE, data=failed)

    def stage(tx: TransactWrite) -> None:
        tx.update(
            record,
            actions=[WebhookSubscriptionRecord.consecutive_failures.add(1)],
            condition=WebhookSubscriptionRecord.subscription_id.exists(),
        )

    try:
        commit_with_events(stage, [event])
    except TransactWriteError as exc:
        if not condition_failed(exc):
            raise
    return False


def enable(record: WebhookSubscriptionRecord, now: datetime) -> None:
    record.status = SubscriptionStatus.ENABLED.value
    record.disabled_reason = None
    record.disabled_at = None
    record.consecutive_failures = 0
    record.paused_until = None
    record.timeouts_in_row = 0
    record.updated_at = now
    save_existing(record)


def delete(
    tenant_id: str, subscription_id: str, model: type[WebhookSubscriptionRecord] | type[EventStreamRecord]
) -> None:
    model(tenant_id=tenant_id, subscription_id=subscription_id).delete()


def get_stream(tenant_id: str, stream_id: str) -> EventStreamRecord | None:
    if not stream_id.startswith(STREAM_PREFIX):
        return None
    return get_or_none(EventStreamRecord, tenant_id, stream_id)


def list_streams(tenant_id: str) -> Sequence[EventStreamRecord]:
    return list(EventStreamRecord.query(tenant_id, EventStreamRecord.subscription_id.startswith(STREAM_PREFIX)))
