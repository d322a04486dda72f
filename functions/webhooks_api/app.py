"""Events out: the event catalog and history, webhook subscriptions (with deliveries and
replay) and SNS event streams."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated

from fastapi import Depends, Path, Query, Response
from pydantic import AwareDatetime

from shared.auth.principal import Principal
from shared.events import browse
from shared.web import PLAN_LIMIT_RESPONSES, create_app, make_lambda_handler, require_scope
from shared.webhooks import event_streams, service
from shared.webhooks.schemas import (
    DeliveryList,
    EventList,
    EventStreamCreate,
    EventStreamList,
    EventStreamOut,
    EventTypeList,
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

app = create_app(
    "CryptoOrchestrator events out",
    "The event catalog and history, signed webhooks with retries and replay, and SNS event streams.",
)
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
WebhookId = Annotated[str, Path(max_length=64, pattern=r"^wh_[0-9a-z]{26}$")]
StreamId = Annotated[str, Path(max_length=64, pattern=r"^es_[0-9a-z]{26}$")]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


@app.get("/events/types", tags=["events"])
async def list_event_types(caller: Reader) -> EventTypeList:
    """Every event type, its version and the JSON Schema of its `data`."""
    return browse.event_types()


@app.get("/events", tags=["events"])
async def list_events(
    caller: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    type_prefix: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z_.]+$")] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> EventList:
    """The tenant's recent events, newest first (kept for `EVENTS_RETENTION_DAYS`, 30 by default)."""
    return browse.list_events(caller, limit=limit, cursor=cursor, type_prefix=type_prefix, since=since, until=until)


@app.post("/webhooks", status_code=201, tags=["webhooks"], responses=PLAN_LIMIT_RESPONSES)
async def create_webhook(body: WebhookCreate, caller: Admin) -> WebhookCreated:
    """Subscribe a URL; the answer holds the signing secret, shown only this once."""
    return service.create(caller, body)


@app.get("/webhooks", tags=["webhooks"])
async def list_webhooks(caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> WebhookList:
    return service.list_tenant(caller, limit=limit, cursor=cursor)


@app.get("/webhooks/{webhook_id}", tags=["webhooks"])
async def get_webhook(webhook_id: WebhookId, caller: Reader) -> WebhookOut:
    return service.read(caller, webhook_id)


@app.patch("/webhooks/{webhook_id}", tags=["webhooks"])
async def update_webhook(webhook_id: WebhookId, body: WebhookUpdate, caller: Admin) -> WebhookOut:
    return service.update(caller, webhook_id, body)


@app.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
async def delete_webhook(webhook_id: WebhookId, caller: Admin) -> Response:
    service.delete(caller, webhook_id)
    return Response(status_code=204)


@app.post("/webhooks/{webhook_id}/rotate-secret", tags=["webhooks"])
async def rotate_webhook_secret(webhook_id: WebhookId, caller: Admin) -> WebhookSecret:
    """A new secret; the old one keeps signing beside it for the overlap window (24 h)."""
    return service.rotate_secret(caller, webhook_id)


@app.post("/webhooks/{webhook_id}/test", status_code=202, tags=["webhooks"])
async def test_webhook(webhook_id: WebhookId, caller: Admin) -> TestDelivery:
    """Queue a `webhook.ping` delivery to this subscription."""
    return service.send_test(caller, webhook_id)


@app.post("/webhooks/{webhook_id}/enable", tags=["webhooks"])
async def enable_webhook(webhook_id: WebhookId, caller: Admin) -> WebhookOut:
    """Resume a disabled subscription (new events; failed deliveries can be replayed)."""
    return service.enable(caller, webhook_id)


@app.get("/webhooks/{webhook_id}/deliveries", tags=["webhooks"])
async def list_webhook_deliveries(
    webhook_id: WebhookId, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> DeliveryList:
    """Deliveries newest first, each with every attempt."""
    return service.list_deliveries(caller, webhook_id, limit=limit, cursor=cursor)


@app.post("/webhooks/{webhook_id}/replay", status_code=202, tags=["webhooks"])
async def replay_webhook(webhook_id: WebhookId, body: ReplayRequest, caller: Admin) -> ReplayOut:
    """Re-send one event, or every matching event in a time range, with the original ids."""
    return service.replay(caller, webhook_id, body)


@app.post("/event-streams", status_code=201, tags=["event streams"])
async def create_event_stream(body: EventStreamCreate, caller: Admin) -> EventStreamOut:
    """Subscribe an https URL, an SQS queue or an email address to the SNS topic, filtered to
    this tenant's events of the chosen types."""
    return event_streams.create(caller, body)


@app.get("/event-streams", tags=["event streams"])
async def list_event_streams(caller: Reader) -> EventStreamList:
    return event_streams.list_tenant(caller)


@app.get("/event-streams/{stream_id}", tags=["event streams"])
async def get_event_stream(stream_id: StreamId, caller: Reader) -> EventStreamOut:
    return event_streams.read(caller, stream_id)


@app.delete("/event-streams/{stream_id}", status_code=204, tags=["event streams"])
async def delete_event_stream(stream_id: StreamId, caller: Admin) -> Response:
    event_streams.delete(caller, stream_id)
    return Response(status_code=204)


lambda_handler = make_lambda_handler(app)


init_phase.complete()
