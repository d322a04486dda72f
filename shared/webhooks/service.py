"""Webhook subscription use cases behind /v1/webhooks: create (SSRF-checked URL, a fresh
`whsec_` secret shown once), read, change, delete, rotate the secret, test, enable, list
deliveries and replay."""

from __future__ import annotations

from datetime import datetime

from shared.auth.principal import Principal
from shared.billing import entitlements
from shared.clock import isoformat, utc_now
from shared.config import get_settings
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.data.webhooks import WebhookPingData
from shared.events.envelope import new_event
from shared.events.history import EventQuery, events_in_range, get_event
from shared.ids import new_id
from shared.pagination import decode_cursor, encode_cursor
from shared.webhooks import deliveries, subscriptions
from shared.webhooks.delivery_tasks import send_tasks, task_for
from shared.webhooks.event_filters import PING, matches, normalize_patterns
from shared.webhooks.schemas import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    ReplayOut,
    ReplayRequest,
    TestDelivery,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookSecret,
    WebhookUpdate,
)
from shared.webhooks.signing_secrets import seal
from shared.webhooks.ssrf import Resolver, check_destination, resolve_system
from shared.webhooks.subscriptions import WEBHOOK_PREFIX, WebhookSubscriptionRecord

CURSOR_KIND = "webhooks"
DELIVERIES_CURSOR_KIND = "webhook_deliveries"
MAX_REPLAY = 1000
# How subscription URLs are resolved for the SSRF check (tests substitute a fake DNS).
RESOLVER: Resolver = resolve_system


def _new_secret() -> str:
    from consumer_kit.webhooks import generate_secret

    return generate_secret()


def _iso(moment: datetime | None) -> str | None:
    return isoformat(moment) if moment else None


def to_out(record: WebhookSubscriptionRecord, now: datetime | None = None) -> WebhookOut:
    now = now or utc_now()
    overlap = record.previous_secret_expires_at
    return WebhookOut(
        id=record.subscription_id,
        url=record.url,
        description=record.description or "",
        event_types=record.patterns,
        status="enabled" if record.enabled else "disabled",
        disabled_reason=record.disabled_reason,
        disabled_at=_iso(record.disabled_at),
        consecutive_failures=int(record.consecutive_failures or 0),
        previous_secret_expires_at=_iso(overlap) if overlap and overlap > now else None,
        created_at=isoformat(record.created_at),
        updated_at=isoformat(record.updated_at),
    )


def _check_url(url: str) -> None:
    """The SSRF guard, now (and again before every delivery). Raises DestinationRefused (422)."""
    check_destination(url, allow_loopback_http=get_settings().webhooks_allow_loopback_http, resolver=RESOLVER)


def _owned(caller: Principal, subscription_id: str) -> WebhookSubscriptionRecord:
    record = subscriptions.get_subscription(caller.tenant_id, subscription_id)
    if record is None:
        raise NotFound("no such webhook subscription", details={"id": subscription_id})
    return record


def create(caller: Principal, request: WebhookCreate) -> WebhookCreated:
    patterns = normalize_patterns(request.event_types)
    _check_url(request.url)
    held = subscriptions.count_subscriptions(caller.tenant_id, WEBHOOK_PREFIX)
    # The plan's count first (402, names the plan that lifts it), then the platform's cap (409).
    entitlements.require(entitlements.tenant_plan(caller.tenant_id), "webhook_subscriptions", held + 1)
    limit = get_settings().webhooks_max_subscriptions
    if held >= limit:
        raise Conflict(f"a tenant may hold at most {limit} webhook subscriptions", code="too_many_subscriptions")
    now = utc_now()
    subscription_id = new_id("wh")
    secret = _new_secret()
    record = WebhookSubscriptionRecord(
        tenant_id=caller.tenant_id,
        subscription_id=subscription_id,
        url=request.url,
        description=request.description,
        event_types=set(patterns),
        secret_sealed=seal(caller.tenant_id, subscription_id, secret),
        created_at=now,
        updated_at=now,
    )
    subscriptions.insert(record)
    return WebhookCreated(**to_out(record, now).model_dump(), secret=secret)


def read(caller: Principal, subscription_id: str) -> WebhookOut:
    return to_out(_owned(caller, subscription_id))


def list_tenant(caller: Principal, *, limit: int, cursor: str | None) -> WebhookList:
    after = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    rows, more = subscriptions.list_subscriptions(caller.tenant_id, limit=limit, after=after)
    next_cursor = encode_cursor(CURSOR_KIND, rows[-1].subscription_id) if more and rows else None
    return WebhookList(items=[to_out(r) for r in rows], next_cursor=next_cursor)


def update(caller: Principal, subscription_id: str, request: WebhookUpdate) -> WebhookOut:
    record = _owned(caller, subscription_id)
    if request.event_types is not None:
        record.event_types = set(normalize_patterns(request.event_types))
    if request.url is not None:
        _check_url(request.url)
        record.url = request.url
    if request.description is not None:
        record.description = request.description
    record.updated_at = utc_now()
    subscriptions.save_existing(record)
    return to_out(record)


def delete(caller: Principal, subscription_id: str) -> None:
    _owned(caller, subscription_id)
    subscriptions.delete(caller.tenant_id, subscription_id, WebhookSubscriptionRecord)


def rotate_secret(caller: Principal, subscription_id: str) -> WebhookSecret:
    record = _owned(caller, subscription_id)
    now = utc_now()
    secret = _new_secret()
    subscriptions.rotate_secret(record, secret, now)
    expires = record.previous_secret_expires_at or now
    return WebhookSecret(id=record.subscription_id, secret=secret, previous_secret_expires_at=isoformat(expires))


def enable(caller: Principal, subscription_id: str) -> WebhookOut:
    record = _owned(caller, subscription_id)
    _check_url(record.url)
    subscriptions.enable(record, utc_now())
    return to_out(record)


def _require_enabled(record: WebhookSubscriptionRecord) -> None:
    if not record.enabled:
        raise Conflict(
            "the subscription is disabled; enable it first",
            code="subscription_disabled",
            details={"id": record.subscription_id, "reason": record.disabled_reason},
        )


def send_test(caller: Principal, subscription_id: str) -> TestDelivery:
    """Queue a `webhook.ping` to this subscription only (it is not published anywhere else)."""
    record = _owned(caller, subscription_id)
    _require_enabled(record)
    ping = new_event(
        PING,
        tenant_id=caller.tenant_id,
        source=subscriptions.SOURCE,
        data=WebhookPingData(subscription_id=record.subscription_id, message="Test delivery from CryptoOrchestrator."),
    )
    task = task_for(ping, record.subscription_id)
    send_tasks([task], 0)
    return TestDelivery(event_id=ping.id, delivery_id=task.delivery_id)


def _delivery_out(row: deliveries.WebhookDeliveryRecord) -> DeliveryOut:
    return DeliveryOut(
        id=row.delivery_id,
        event_id=row.event_id,
        event_type=row.event_type,
        replay=bool(row.replay),
        status=row.status,
        attempt_count=int(row.attempt_count or 0),
        first_attempt_at=isoformat(row.first_attempt_at),
        last_attempt_at=isoformat(row.last_attempt_at),
        next_retry_at=_iso(row.next_retry_at),
        attempts=[
            AttemptOut(
                at=isoformat(a.at),
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
                next_retry_at=_iso(a.next_retry_at),
            )
            for a in row.attempts()
        ],
    )


def list_deliveries(caller: Principal, subscription_id: str, *, limit: int, cursor: str | None) -> DeliveryList:
    _owned(caller, subscription_id)
    before = decode_cursor(DELIVERIES_CURSOR_KIND, cursor) if cursor else None
    if before is not None and not before.startswith(f"{subscription_id}#"):
        before = None  # a cursor of another subscription: start over rather than leak nothing useful
    rows, more = deliveries.list_deliveries(caller.tenant_id, subscription_id, limit=limit, before=before)
    next_cursor = encode_cursor(DELIVERIES_CURSOR_KIND, rows[-1].delivery_key) if more and rows else None
    return DeliveryList(items=[_delivery_out(r) for r in rows], next_cursor=next_cursor)


def replay(caller: Principal, subscription_id: str, request: ReplayRequest) -> ReplayOut:
    """Re-send chosen events with their original ids (consumers deduplicate on them)."""
    record = _owned(caller, subscription_id)
    _require_enabled(record)
    if request.event_id is not None:
        event = get_event(caller.tenant_id, request.event_id)
        if event is None:
            raise NotFound("no such event (or older than the retention)", details={"event_id": request.event_id})
        if not matches(record.patterns, event.type):
            raise ValidationFailed(
                "the subscription does not receive this event type",
                code="event_not_subscribed",
                details={"event_id": event.id, "type": event.type},
            )
        chosen = [event]
        truncated = False
    else:
        assert request.since is not None and request.until is not None  # noqa: S101 - the model checked it
        found = events_in_range(
            caller.tenant_id, EventQuery(since=request.since, until=request.until), limit=10 * MAX_REPLAY
        )
        matching = [e for e in found if matches(record.patterns, e.type)]
        chosen, truncated = matching[:MAX_REPLAY], len(matching) > MAX_REPLAY
    tasks = [task_for(event, record.subscription_id, replay=True) for event in chosen]
    if tasks:
        send_tasks(tasks, 0)
    return ReplayOut(queued=len(tasks), event_ids=[e.id for e in chosen], truncated=truncated)
