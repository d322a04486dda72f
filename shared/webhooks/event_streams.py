"""SNS event streams (/v1/event-streams): a tenant's subscription on our `domain-events` topic.

The topic receives every domain event's envelope (an EventBridge rule with InputPath `$.detail`),
so each subscription carries a payload-based filter policy (FilterPolicyScope `MessageBody`)
that pins `tenant_id` to the caller's tenant and `type` to the chosen patterns: SNS itself drops
every other tenant's events before delivery. The filter is ours to set; the API never lets a
client choose or widen it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.auth.principal import Principal
from shared.aws_clients import aws_client
from shared.clock import isoformat, utc_now
from shared.config import get_settings
from shared.errors import Conflict, DependencyUnavailable, NotFound, ValidationFailed
from shared.ids import new_id
from shared.observability import logger
from shared.webhooks import subscriptions
from shared.webhooks.event_filters import normalize_patterns, sns_filter_policy
from shared.webhooks.schemas import EventStreamCreate, EventStreamList, EventStreamOut
from shared.webhooks.ssrf import check_destination, parse_webhook_url
from shared.webhooks.subscriptions import STREAM_PREFIX, EventStreamRecord

MAX_STREAMS = 10
_SQS_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:sqs:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,80}(?:\.fifo)?")
_EMAIL = re.compile(r"[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _sns() -> Any:
    return aws_client("sns", read_timeout=10)


def _check_endpoint(protocol: str, endpoint: str) -> str:
    """The SNS protocol for the endpoint (`http` only for loopback in the local cloud)."""
    if protocol == "https":
        settings = get_settings()
        url = parse_webhook_url(endpoint, allow_loopback_http=settings.webhooks_allow_loopback_http)
        if url.scheme == "http":  # the local cloud only: plain http must resolve to loopback
            check_destination(url, allow_loopback_http=True)
        return url.scheme  # SNS delivers from AWS's network, not ours; the URL rules still apply
    if protocol == "sqs" and _SQS_ARN.fullmatch(endpoint):
        return "sqs"
    if protocol == "email" and _EMAIL.fullmatch(endpoint):
        return "email"
    raise ValidationFailed(
        f"endpoint is not a valid {protocol} endpoint", code="invalid_endpoint", details={"protocol": protocol}
    )


def _out(record: EventStreamRecord) -> EventStreamOut:
    return EventStreamOut(
        id=record.subscription_id,
        protocol=record.protocol,
        endpoint=record.endpoint,
        event_types=record.patterns,
        topic_arn=get_settings().domain_events_topic_arn,
        filter_policy=sns_filter_policy(record.tenant_id, record.patterns),
        created_at=isoformat(record.created_at),
    )


def create(caller: Principal, request: EventStreamCreate) -> EventStreamOut:
    patterns = normalize_patterns(request.event_types)
    protocol = _check_endpoint(request.protocol, request.endpoint)
    if subscriptions.count_subscriptions(caller.tenant_id, STREAM_PREFIX) >= MAX_STREAMS:
        raise Conflict(f"a tenant may hold at most {MAX_STREAMS} event streams", code="too_many_streams")
    _refuse_existing(protocol, request.endpoint)
    attributes = {
        "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps(sns_filter_policy(caller.tenant_id, patterns)),
    }
    if protocol == "sqs":
        attributes["RawMessageDelivery"] = "true"  # the queue gets the envelope itself
    try:
        arn = _sns().subscribe(
            TopicArn=get_settings().domain_events_topic_arn,
            Protocol=protocol,
            Endpoint=request.endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"InvalidParameter", "InvalidParameterException"}:
            raise ValidationFailed("SNS refused the endpoint", code="invalid_endpoint") from exc
        raise DependencyUnavailable("SNS is unavailable; try again") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable("SNS is unavailable; try again") from exc
    record = EventStreamRecord(
        tenant_id=caller.tenant_id,
        subscription_id=new_id("es"),
        protocol=request.protocol,
        endpoint=request.endpoint,
        event_types=set(patterns),
        sns_subscription_arn=arn,
        created_at=utc_now(),
    )
    try:
        subscriptions.insert(record)
    except Exception:
        _unsubscribe(arn)  # no orphan SNS subscription that no row describes
        raise
    return _out(record)


def _refuse_existing(protocol: str, endpoint: str) -> None:
    """SNS answers a second Subscribe of the same (protocol, endpoint) with the first subscription
    (or an error when attributes differ), so one endpoint can back only one stream: otherwise a
    second tenant could rewrite the first one's filter policy, or delete its subscription."""
    try:
        pages = (
            _sns()
            .get_paginator("list_subscriptions_by_topic")
            .paginate(TopicArn=get_settings().domain_events_topic_arn)
        )
        for page in pages:
            for existing in page.get("Subscriptions", []):
                if existing.get("Protocol") == protocol and existing.get("Endpoint") == endpoint:
                    raise Conflict("this endpoint already receives an event stream", code="endpoint_already_subscribed")
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable("SNS is unavailable; try again") from exc


def _unsubscribe(arn: str) -> None:
    try:
        _sns().unsubscribe(SubscriptionArn=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotFound":
            raise


def read(caller: Principal, stream_id: str) -> EventStreamOut:
    record = subscriptions.get_stream(caller.tenant_id, stream_id)
    if record is None:
        raise NotFound("no such event stream", details={"id": stream_id})
    return _out(record)


def list_tenant(caller: Principal) -> EventStreamList:
    return EventStreamList(items=[_out(r) for r in subscriptions.list_streams(caller.tenant_id)])


def delete(caller: Principal, stream_id: str) -> None:
    record = subscriptions.get_stream(caller.tenant_id, stream_id)
    if record is None:
        raise NotFound("no such event stream", details={"id": stream_id})
    arn = record.sns_subscription_arn
    if arn and arn.startswith("arn:"):  # "pending confirmation" until an https/email endpoint confirms
        _unsubscribe(arn)
    subscriptions.delete(caller.tenant_id, stream_id, EventStreamRecord)
    logger.info("event stream deleted", extra={"stream_id": stream_id})
