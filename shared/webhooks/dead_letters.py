"""What happens to a webhook-deliveries message that failed `maxReceiveCount` times (the
dispatcher raised on it every time: an outage of ours, or a message it cannot handle).

- A delivery task: the delivery is marked `failed` (an attempt logged as `dead_lettered`) and
  `webhook.delivery_failed` is published, so the tenant learns of it and can replay. It does not
  count towards disabling the subscription: the failure was ours, not the endpoint's. A delivery
  already settled (delivered, failed, gone, skipped) is left as it is.
- A bus event that could not be fanned out: `alert.webhook_message_dead_lettered` (no
  subscription has it yet; the tenant or an operator replays it), except when that event is
  itself such an alert (no alert about an alert: a persistent fault cannot loop).
- Anything unreadable: the same alert under the platform tenant.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from shared.clock import isoformat, utc_now
from shared.events.data.alerts import WebhookMessageDeadLetteredData
from shared.events.data.webhooks import WebhookDeliveryFailedData
from shared.events.envelope import DomainEvent, new_event
from shared.events.transactions import record_events
from shared.observability import MetricUnit, logger, metrics
from shared.webhooks import deliveries
from shared.webhooks.deliveries import DeliveryStatus
from shared.webhooks.delivery_tasks import AttemptLog, DeliveryTask

SOURCE = "cryptoorchestrator.webhooks"
ALERT = "alert.webhook_message_dead_lettered"
PLATFORM_TENANT = "_platform"  # as for dead-lettered trade tasks: alerts about messages naming no tenant
DEAD_LETTERED = "dead_lettered"
_SETTLED = {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.GONE, DeliveryStatus.SKIPPED}


def settle_dead_lettered_message(body: str, receive_count: int) -> str:
    """Record what became of one dead-lettered message; returns the resolution (for logs)."""
    message = _json_object(body)
    if message is not None and "detail-type" in message:
        try:
            event = DomainEvent.model_validate(message.get("detail"))
        except ValidationError:
            return _alert(PLATFORM_TENANT, None, receive_count, "unreadable bus event dropped")
        if event.type == ALERT:
            logger.error("a dead-letter alert could not be fanned out", extra={"event_id": event.id})
            return "alert about a dead letter: logged, not re-alerted"
        return _alert(event.tenant_id, event, receive_count, "not fanned out to webhooks: replay it")
    if message is not None:
        try:
            task = DeliveryTask.model_validate(message)
        except ValidationError:
            task = None
        if task is not None:
            return _fail_delivery(task)
    return _alert(PLATFORM_TENANT, None, receive_count, "unparseable message dropped")


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _fail_delivery(task: DeliveryTask) -> str:
    existing = deliveries.get_delivery(task.tenant_id, task.subscription_id, task.delivery_id)
    if existing is not None and existing.status in _SETTLED:
        return f"delivery already {existing.status}"
    now = utc_now()
    attempts = [*task.attempts, AttemptLog(at=now, status_code=None, latency_ms=0, error=DEAD_LETTERED)]
    deliveries.save(task, DeliveryStatus.FAILED, attempts)
    last = task.attempts[-1] if task.attempts else None
    failed = WebhookDeliveryFailedData(
        subscription_id=task.subscription_id,
        event_id=task.event.id,
        event_type=task.event.type,
        attempts=len(task.attempts),
        first_attempt_at=isoformat(attempts[0].at),
        last_status_code=last.status_code if last else None,
        last_error=DEAD_LETTERED,
    )
    record_events([new_event("webhook.delivery_failed", tenant_id=task.tenant_id, source=SOURCE, data=failed)])
    metrics.add_metric(name="WebhookDeliveriesDeadLettered", unit=MetricUnit.Count, value=1)
    logger.error(
        "webhook delivery dead-lettered",
        extra={"subscription_id": task.subscription_id, "event_id": task.event.id, "delivery_id": task.delivery_id},
    )
    return "delivery marked failed"


def _alert(tenant_id: str, event: DomainEvent | None, receive_count: int, resolution: str) -> str:
    data = WebhookMessageDeadLetteredData(
        message_kind="event" if event is not None else "unparseable",
        event_id=event.id if event else None,
        event_type=event.type if event else None,
        receive_count=receive_count,
        resolution=resolution,
    )
    record_events([new_event(ALERT, tenant_id=tenant_id, source=SOURCE, data=data)])
    metrics.add_metric(name="WebhookMessagesDeadLettered", unit=MetricUnit.Count, value=1)
    logger.error("webhook-deliveries message dead-lettered", extra={"resolution": resolution})
    return resolution
