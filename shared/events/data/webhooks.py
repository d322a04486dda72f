"""webhooks-out (issue 10): `data` of events about webhook delivery itself."""

from __future__ import annotations

from shared.events.data import EventData


class WebhookPingData(EventData):
    subscription_id: str
    message: str


class WebhookDeliveryFailedData(EventData):
    subscription_id: str
    event_id: str
    event_type: str
    attempts: int
    first_attempt_at: str
    last_status_code: int | None
    last_error: str | None


class WebhookDisabledData(EventData):
    subscription_id: str
    reason: str
    consecutive_failures: int
