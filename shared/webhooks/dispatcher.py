"""The webhook dispatcher: what `webhook_dispatcher` does with each message of the
webhook-deliveries queue.

- An EventBridge event (from the bus rule) is fanned out: one `DeliveryTask` per enabled
  subscription of the event's tenant whose patterns match; nothing is delivered here.
- A `DeliveryTask` is one attempt at one subscription: sign (Standard Webhooks, `webhook-id` =
  the event id), POST through the SSRF-checked delivery, record the attempt, then
  2xx: done; 410: disable the subscription; anything else: queue the next attempt after an
  exponential, fully jittered delay until the retry window (24 h) ends, then mark the delivery
  failed, publish `webhook.delivery_failed`, and disable the subscription after N in a row.

Clock, random source, queue and HTTP are injected so tests drive the retry schedule without
sleeping.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from consumer_kit.webhooks import sign_webhook
from shared.clock import isoformat, utc_now
from shared.config import get_settings
from shared.events.data.webhooks import WebhookDeliveryFailedData
from shared.events.envelope import DomainEvent
from shared.observability import MetricUnit, logger, metrics
from shared.webhooks import deliveries, subscriptions
from shared.webhooks.deliveries import DeliveryStatus
from shared.webhooks.delivery_http import DeliveryOutcome, DeliveryResult, deliver
from shared.webhooks.delivery_tasks import MAX_DELAY_SECONDS, AttemptLog, DeliveryTask, send_tasks, task_for
from shared.webhooks.event_filters import matches
from shared.webhooks.retry_schedule import next_attempt_delay
from shared.webhooks.subscriptions import WebhookSubscriptionRecord

SendTasks = Callable[[Sequence[DeliveryTask], int], None]


class Post(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], *, allow_loopback_http: bool, timeout_seconds: float
    ) -> DeliveryResult: ...


def _post(
    url: str, body: bytes, headers: dict[str, str], *, allow_loopback_http: bool, timeout_seconds: float
) -> DeliveryResult:
    return deliver(url, body, headers, allow_loopback_http=allow_loopback_http, timeout_seconds=timeout_seconds)


def _about_itself(event: DomainEvent, subscription: WebhookSubscriptionRecord) -> bool:
    """A `webhook.*` event about a subscription is not sent to it (a failing endpoint would
    otherwise feed itself failure events forever)."""
    return event.type.startswith("webhook.") and event.data.get("subscription_id") == subscription.subscription_id


def wanted_by(event: DomainEvent, subscription: WebhookSubscriptionRecord) -> bool:
    return (
        subscription.enabled
        and subscription.tenant_id == event.tenant_id
        and matches(subscription.patterns, event.type)
        and not _about_itself(event, subscription)
    )


def _error_class(result: DeliveryResult) -> str | None:
    """What the delivery log shows: the outcome (`timeout`, `http_error`, ...), or for a refusal by
    the SSRF guard its category (`private`, `loopback`, ...)."""
    if result.succeeded:
        return None
    if result.outcome is DeliveryOutcome.REFUSED and result.error:
        return result.error
    return result.outcome.value


@dataclass
class Dispatcher:
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.SystemRandom)
    send: SendTasks = send_tasks
    post: Post = _post
    # In-process guard, before any pause is recorded: while an attempt at an endpoint has been
    # running longer than this, other deliveries to it in this instance are deferred rather than
    # tying up more workers on what is probably a dead endpoint.
    slow_after_seconds: float = 2.0
    # At most this many attempts at one endpoint at a time per instance: a batch waits for its
    # slowest record, so a dead endpoint spread over many batches would stall them all for the
    # 10 s timeout before the first verdict pauses it.
    max_inflight_per_endpoint: int = 2
    monotonic: Callable[[], float] = time.monotonic
    _inflight: dict[str, list[float]] = field(default_factory=dict, init=False, repr=False)
    _inflight_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def handle_message(self, body: str) -> DeliveryStatus | int:
        """One queue message: a bus event (returns how many deliveries it fanned out to) or a
        delivery task (returns the delivery's status after this attempt)."""
        message: dict[str, Any] = json.loads(body)
        if "detail-type" in message:
            return self.fan_out(DomainEvent.model_validate(message["detail"]))
        return self.attempt(DeliveryTask.model_validate(message))

    def fan_out(self, event: DomainEvent) -> int:
        tasks = [
            task_for(event, s.subscription_id)
            for s in subscriptions.tenant_subscriptions(event.tenant_id)
            if wanted_by(event, s)
        ]
        if tasks:
            self.send(tasks, 0)
        return len(tasks)

    def attempt(self, task: DeliveryTask) -> DeliveryStatus:
        settings = get_settings()
        now = self.clock()
        first = task.attempts[0].at if task.attempts else now
        subscription = subscriptions.get_subscription(task.tenant_id, task.subscription_id)
        if subscription is None or not subscription.enabled:
            # Deleted or disabled meanwhile: stop here (an enable resumes new events, not these).
            skipped = AttemptLog(at=now, status_code=None, latency_ms=0, error="subscription_disabled")
            deliveries.save(task, DeliveryStatus.SKIPPED, [*task.attempts, skipped])
            return DeliveryStatus.SKIPPED
        deadline = first + timedelta(hours=settings.webhooks_retry_window_hours)
        if subscription.paused_until is not None and now < deadline:
            wait = self._paused(subscription, now, settings.webhooks_delivery_timeout_seconds)
            if wait is not None:
                self.send([task], wait)
                return DeliveryStatus.DEFERRED
        started, defer_by = self._enter(subscription.subscription_id)
        if started is None:  # another attempt at this endpoint is hanging: wait for its verdict
            self.send([task], defer_by)
            return DeliveryStatus.DEFERRED
        body = task.event.model_dump_json().encode()
        headers = sign_webhook(subscription.signing_secrets(now), task.event.id, body, int(now.timestamp()))
        try:
            result = self.post(
                subscription.url,
                body,
                headers,
                allow_loopback_http=settings.webhooks_allow_loopback_http,
                timeout_seconds=settings.webhooks_delivery_timeout_seconds,
            )
        finally:
            self._leave(subscription.subscription_id, started)
        attempt = AttemptLog(
            at=now, status_code=result.status_code, latency_ms=round(result.latency_ms, 1), error=_error_class(result)
        )
        if result.outcome is DeliveryOutcome.TIMEOUT:
            subscriptions.pause_after_timeout(subscription, self.clock())
        elif result.status_code is not None:
            subscriptions.mark_responding(subscription, delivered=result.succeeded)
        if result.succeeded:
            deliveries.save(task, DeliveryStatus.DELIVERED, [*task.attempts, attempt])
            return DeliveryStatus.DELIVERED
        if result.outcome is DeliveryOutcome.GONE:
            deliveries.save(task, DeliveryStatus.GONE, [*task.attempts, attempt])
            subscriptions.disable(subscription, "the endpoint answered 410 Gone", now)
            logger.info("webhook subscription disabled (410)", extra={"subscription_id": subscription.subscription_id})
            return DeliveryStatus.GONE
        delay = next_attempt_delay(
            task.attempt,
            now,
            deadline,
            self.rng,
            base=settings.webhooks_retry_base_seconds,
            cap=settings.webhooks_retry_cap_seconds,
        )
        if delay is None:
            deliveries.save(task, DeliveryStatus.FAILED, [*task.attempts, attempt])
            self._give_up(subscription, task, first, result, now)
            return DeliveryStatus.FAILED
        history = [*task.attempts, attempt.model_copy(update={"next_retry_at": now + timedelta(seconds=delay)})]
        deliveries.save(task, DeliveryStatus.RETRYING, history)
        self.send([task.retry(history)], delay)
        return DeliveryStatus.RETRYING

    def _enter(self, subscription_id: str) -> tuple[float | None, int]:
        """Register an attempt (returns its start), or (None, seconds to defer it by) when an
        attempt at the same endpoint has been running for longer than `slow_after_seconds`."""
        timeout = get_settings().webhooks_delivery_timeout_seconds
        with self._inflight_lock:
            now = self.monotonic()
            running = self._inflight.setdefault(subscription_id, [])
            if running and now - min(running) > self.slow_after_seconds:
                remaining = max(0.0, timeout - (now - min(running)))
                return None, int(remaining + 0.999) + self.rng.randint(1, 5)
            if len(running) >= self.max_inflight_per_endpoint:
                return None, self.rng.randint(1, 3)
            running.append(now)
            return now, 0

    def _leave(self, subscription_id: str, started: float | None) -> None:
        with self._inflight_lock:
            running = self._inflight.get(subscription_id, [])
            if started in running:
                running.remove(started)
            if not running:
                self._inflight.pop(subscription_id, None)

    def _paused(self, subscription: WebhookSubscriptionRecord, now: datetime, timeout: float) -> int | None:
        """Seconds to defer a delivery to a paused endpoint, or None to attempt it (no pause, or
        this delivery won the probe after the pause ran out). Jitter spreads the deferred ones."""
        assert subscription.paused_until is not None  # noqa: S101 - the caller checked
        if now >= subscription.paused_until:
            lease = timedelta(seconds=timeout + 5)
            if subscriptions.claim_probe(subscription, now, lease):
                return None
            until = now + lease
        else:
            until = subscription.paused_until
        wait = (until - now) / timedelta(seconds=1)
        return min(MAX_DELAY_SECONDS, int(wait + 0.999) + self.rng.randint(0, 5))

    def _give_up(
        self,
        subscription: WebhookSubscriptionRecord,
        task: DeliveryTask,
        first: datetime,
        result: DeliveryResult,
        now: datetime,
    ) -> None:
        failed = WebhookDeliveryFailedData(
            subscription_id=subscription.subscription_id,
            event_id=task.event.id,
            event_type=task.event.type,
            attempts=task.attempt,
            first_attempt_at=isoformat(first),
            last_status_code=result.status_code,
            last_error=result.error or result.outcome.value,
        )
        disabled = subscriptions.record_failed_delivery(subscription, failed, now)
        metrics.add_metric(name="WebhookDeliveryFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "webhook delivery given up",
            extra={"subscription_id": subscription.subscription_id, "event_id": task.event.id, "disabled": disabled},
        )
