"""Request and response shapes of the events, webhooks and event-streams API."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from shared.events.envelope import DomainEvent
from shared.webhooks.event_filters import MAX_PATTERNS, allowed_patterns

Pattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z_.*]+$"),
    Field(json_schema_extra={"enum": list[JsonValue](allowed_patterns())}),
]
Description = Annotated[str, StringConstraints(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
# What the schema promises is accepted (when the host resolves to public addresses): https, a DNS
# name, an optional port (443 or 1024-59999), a path and query without spaces; the server's parser
# (shared.webhooks.ssrf) also takes IP literals and international names.
_HTTPS_URL_PATTERN = (
    r"^https://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
    r"(?::(?:443|10(?:2[4-9]|[3-9][0-9])|1[1-9][0-9]{2}|[2-9][0-9]{3}|[1-5][0-9]{4}))?"
    r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(?:\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
)
Url = Annotated[
    str, StringConstraints(min_length=1, max_length=2048), Field(json_schema_extra={"pattern": _HTTPS_URL_PATTERN})
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventTypeOut(BaseModel):
    type: str
    version: int
    description: str
    data_schema: dict[str, Any] = Field(description="JSON Schema of the envelope's `data`.")


class EventTypeList(BaseModel):
    items: list[EventTypeOut]


class EventList(BaseModel):
    items: list[DomainEvent] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null at the end.")


class WebhookCreate(_Request):
    url: Url = Field(description="https URL that receives POSTed events (private and internal addresses refused).")
    event_types: list[Pattern] = Field(
        min_length=1, max_length=MAX_PATTERNS, description="Types, `family.*` wildcards or `*`."
    )
    description: Description = ""


def _given_fields_are_not_null(schema: dict[str, Any]) -> None:
    """A partial update: each field may be left out, but none may be null (what `_not_empty` checks)."""
    schema["minProperties"] = 1
    for field in schema["properties"].values():
        if "anyOf" in field:
            field["anyOf"] = [branch for branch in field["anyOf"] if branch.get("type") != "null"]


class WebhookUpdate(_Request):
    model_config = ConfigDict(json_schema_extra=_given_fields_are_not_null)

    url: Url | None = None
    event_types: list[Pattern] | None = Field(default=None, min_length=1, max_length=MAX_PATTERNS)
    description: Description | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    disabled_at: str | None
    consecutive_failures: int
    previous_secret_expires_at: str | None = Field(
        description="During a rotation: until when the previous secret also signs deliveries."
    )
    created_at: str
    updated_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_...`). Shown only now: store it.")


class WebhookSecret(BaseModel):
    id: str
    secret: str = Field(description="The new signing secret, shown only now.")
    previous_secret_expires_at: str = Field(description="Until then deliveries carry signatures by both secrets.")


class WebhookList(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class TestDelivery(BaseModel):
    event_id: str
    delivery_id: str


class AttemptOut(BaseModel):
    at: str
    status_code: int | None
    latency_ms: float
    error: str | None
    next_retry_at: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    replay: bool
    status: str
    attempt_count: int
    first_attempt_at: str
    last_attempt_at: str
    next_retry_at: str | None
    attempts: list[AttemptOut]


class DeliveryList(BaseModel):
    items: list[DeliveryOut] = Field(description="Newest first.")
    next_cursor: str | None


class ReplayRequest(_Request):
    """Either one `event_id`, or every event in [`since`, `until`) matching the subscription
    (`since` before `until`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["event_id"],
                    "properties": {"event_id": {"type": "string"}},
                    "not": {"anyOf": [{"required": ["since"]}, {"required": ["until"]}]},
                },
                {
                    "required": ["since", "until"],
                    "properties": {"since": {"type": "string"}, "until": {"type": "string"}},
                    "not": {"required": ["event_id"]},
                },
            ]
        }
    )

    event_id: Annotated[str, StringConstraints(pattern=r"^evt_[0-9a-z]{26}$")] | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        by_id = self.event_id is not None
        by_range = self.since is not None or self.until is not None
        if by_id == by_range:
            raise ValueError("give either event_id, or since and until")
        if by_range and (self.since is None or self.until is None):
            raise ValueError("a time range needs both since and until")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class ReplayOut(BaseModel):
    queued: int
    event_ids: list[str] = Field(description="Oldest first; each is re-sent with its original id.")
    truncated: bool = Field(description="True when the range held more events than one replay sends.")


class EventStreamCreate(_Request):
    protocol: Literal["https", "sqs", "email"]
    endpoint: Annotated[str, StringConstraints(min_length=3, max_length=2048)] = Field(
        description="An https URL, an SQS queue ARN (in your account: grant our topic sqs:SendMessage), or an email."
    )
    event_types: list[Pattern] = Field(min_length=1, max_length=MAX_PATTERNS)


class EventStreamOut(BaseModel):
    id: str
    protocol: str
    endpoint: str
    event_types: list[str]
    topic_arn: str
    filter_policy: dict[str, Any] = Field(description="The SNS filter policy (scope MessageBody) on the subscription.")
    created_at: str


class EventStreamList(BaseModel):
    items: list[EventStreamOut]
