"""Every domain event type and the schema of its `data`, in one place.

Consumer documentation is generated from this table (`python -m shared.events.catalog`), so the
docs and the code cannot drift.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantCreatedData(_Data):
    tenant_id: str
    name: str
    plan: str


class ApiKeyData(_Data):
    key_id: str
    name: str
    scopes: list[str]


class BotData(_Data):
    bot_id: str
    name: str
    symbol: str
    exchange_account_id: str
    strategy_type: str
    status: Literal["stopped", "running", "paused"]
    previous_status: Literal["stopped", "running", "paused"] | None = None
    changed_fields: list[str] | None = None
    # entitlements (issue 13): why the platform, not the user, stopped the bot
    # (`plan_downgraded`, `payment_failed`); absent for a user's own change.
    reason: str | None = None


class InvitationData(_Data):
    """entitlements (issue 13): seats. The invitee's email stays out of events."""

    invitation_id: str
    role: Literal["admin", "member"]
    user_id: str | None = None


class ExchangeAccountData(_Data):
    account_id: str
    exchange: str
    label: str
    sandbox: bool


class OrderData(_Data):
    order_id: str
    client_order_id: str
    bot_id: str | None
    exchange_account_id: str
    exchange: str
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    amount: str
    price: str | None
    status: str
    filled: str
    average_price: str | None
    fee_cost: str
    fee_currency: str | None
    reason: str | None = None


class RiskBreachData(_Data):
    order_id: str | None
    bot_id: str | None
    rule: str
    message: str
    limit: str | None = None
    observed: str | None = None


class KillSwitchData(_Data):
    engaged: bool
    bots_stopped: int
    orders_canceling: int


class RiskSettingsData(_Data):
    symbol_allowlist: list[str] | None
    max_price_deviation_pct: str


class DriftData(_Data):
    exchange_account_id: str
    exchange: str
    kind: Literal["unknown_open_order", "order_state_mismatch"]
    exchange_order_id: str | None
    client_order_id: str | None
    symbol: str | None
    detail: str


class LateOrderAdoptedData(_Data):
    order_id: str
    client_order_id: str
    exchange_account_id: str
    exchange: str
    symbol: str
    exchange_status: str
    filled: str
    not_placed_at: str | None
    found_at: str


class EventQuarantinedData(_Data):
    event_id: str
    event_type: str
    problem: str


class TaskDeadLetteredData(_Data):
    task_kind: str
    order_id: str | None
    receive_count: int
    resolution: str


# ---- signals (TradingView / 3Commas alerts)
class SignalData(_Data):
    signal_id: str
    bot_id: str
    action: str | None
    symbol: str
    status: Literal["refused", "executed", "failed"]
    reason: str | None = None
    order_id: str | None = None
    side: Literal["buy", "sell"] | None = None
    amount: str | None = None
    position_before: str | None = None
    target_position: str | None = None


EVENT_TYPES: dict[str, tuple[type[_Data], str]] = {
    "tenant.created": (TenantCreatedData, "A tenant signed up."),
    "api_key.created": (ApiKeyData, "An API key was issued (the key itself is never in events)."),
    "api_key.revoked": (ApiKeyData, "An API key was revoked; it stops working at once."),
    "invitation.created": (InvitationData, "An admin invited someone to join the tenant with a role (takes a seat)."),
    "invitation.accepted": (InvitationData, "An invitation was accepted: `user_id` is the new user of the tenant."),
    "bot.created": (BotData, "A bot was created (always in status `stopped`)."),
    "bot.updated": (BotData, "A bot's configuration changed; `changed_fields` lists what."),
    "bot.started": (BotData, "A bot started or resumed (`previous_status` says which)."),
    "bot.paused": (BotData, "A running bot was paused."),
    "bot.stopped": (BotData, "A bot was stopped."),
    "bot.deleted": (BotData, "A bot was deleted."),
    "exchange_account.created": (ExchangeAccountData, "Exchange credentials were verified and stored (encrypted)."),
    "exchange_account.deleted": (ExchangeAccountData, "An exchange account and its credentials were deleted."),
    "order.created": (OrderData, "An order intent was recorded (`PENDING_SUBMIT`) and queued."),
    "order.submitted": (OrderData, "The exchange accepted the order."),
    "order.partially_filled": (OrderData, "Part of the order filled; `filled` is cumulative."),
    "order.filled": (OrderData, "The order filled completely."),
    "order.canceled": (OrderData, "The order was canceled (what filled before stays filled)."),
    "order.rejected": (OrderData, "Refused by a risk rule or by the exchange; `reason` says why. Never retried."),
    "order.expired": (OrderData, "The exchange expired the order."),
    "order.unknown": (OrderData, "The exchange's answer was ambiguous; the reconciler will find out."),
    "order.not_placed": (
        OrderData,
        "An ambiguous order was not found on the exchange after the submit deadline "
        "and repeated lookups spaced in time. It is never resent: the owner (you or "
        "the bot) may act again with a new order. It is still looked up for the watch "
        "window and adopted if it appears (`order.found_after_not_placed`).",
    ),
    "order.found_after_not_placed": (
        OrderData,
        "An order declared not placed appeared on the exchange and was "
        "adopted: its state and fills are recorded; what is still open of "
        "it is canceled.",
    ),
    "risk.limit_breached": (RiskBreachData, "A risk rule stopped an order; `rule` names it."),
    "risk.kill_switch_engaged": (KillSwitchData, "All bots stopped and open orders are being canceled."),
    "risk.kill_switch_released": (KillSwitchData, "Trading is allowed again."),
    "risk.settings_changed": (RiskSettingsData, "The tenant's risk settings changed (the new values)."),
    "reconciliation.drift_detected": (DriftData, "The exchange holds an order our records do not explain."),
    "alert.late_order_adopted": (
        LateOrderAdoptedData,
        "Operators: an order declared not placed appeared on the exchange (lagging lookups) and was adopted.",
    ),
    "alert.event_quarantined": (
        EventQuarantinedData,
        "Operators: an outbox row could not be read and was set aside; it no longer blocks the relay.",
    ),
    # ---- signals
    "signal.rejected": (SignalData, "A bot refused a signal; `reason` says why (stale, symbol_mismatch, ...)."),
    "signal.executed": (
        SignalData,
        "A signal was carried out: `order_id` is the order it created, or null "
        "when the bot already held the wanted position.",
    ),
    "signal.failed": (
        SignalData,
        "An accepted signal could not be carried out (bot stopped, amount below the "
        "market minimum, ...); `reason` says why.",
    ),
    "bot.signal_secret_rotated": (
        BotData,
        "A signal bot's secret was replaced; the old one stops working at once (the secret is never in events).",
    ),
    "alert.trade_task_dead_lettered": (
        TaskDeadLetteredData,
        "A trade task failed repeatedly and reached the dead-letter queue.",
    ),
}


# ---- webhooks-out (issue 10): events about webhook delivery itself. A `webhook.*` event about a
# subscription is never delivered to that same subscription (no feedback loop).
class WebhookPingData(_Data):
    subscription_id: str
    message: str


class WebhookDeliveryFailedData(_Data):
    subscription_id: str
    event_id: str
    event_type: str
    attempts: int
    first_attempt_at: str
    last_status_code: int | None
    last_error: str | None


class WebhookDisabledData(_Data):
    subscription_id: str
    reason: str
    consecutive_failures: int


EVENT_TYPES.update(
    {
        "webhook.ping": (
            WebhookPingData,
            "Sent by `POST /v1/webhooks/{id}/test` to that subscription only; never "
            "published to other subscribers or the SNS topic.",
        ),
        "webhook.delivery_failed": (
            WebhookDeliveryFailedData,
            "A delivery was retried for the whole retry window (24 h) without a 2xx and was given up.",
        ),
        "webhook.disabled": (
            WebhookDisabledData,
            "A subscription was disabled: its endpoint answered 410 Gone, or "
            "too many deliveries in a row failed. `POST /v1/webhooks/{id}/enable` "
            "resumes it.",
        ),
    }
)
EVENT_VERSIONS: dict[str, int] = {}  # types whose data schema changed incompatibly; absent means 1


def event_version(event_type: str) -> int:
    """The current `version` of a type's envelope (bumped only on incompatible data changes)."""
    return EVENT_VERSIONS.get(event_type, 1)


# ---- end webhooks-out


# ---- events-order (issue 10): the aggregate each event type belongs to. Its events carry
# `aggregate` {type, id} and a `sequence` numbered per aggregate (see shared/events/sequences.py).
# The first key whose field is present (non-null) in `data` wins; none means the tenant itself.
AGGREGATE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "tenant.": (("tenant", "tenant_id"),),
    "api_key.": (("api_key", "key_id"),),
    "bot.": (("bot", "bot_id"),),
    "exchange_account.": (("exchange_account", "account_id"),),
    "order.": (("order", "order_id"),),
    "risk.limit_breached": (("order", "order_id"),),
    "risk.": (),
    "reconciliation.": (("exchange_account", "exchange_account_id"),),
    "alert.late_order_adopted": (("order", "order_id"),),
    "alert.trade_task_dead_lettered": (("order", "order_id"),),
    "alert.": (),
    "signal.": (("signal", "signal_id"),),
    "webhook.": (("webhook_subscription", "subscription_id"),),
}
TENANT_AGGREGATE = "tenant"


class WebhookMessageDeadLetteredData(_Data):
    message_kind: Literal["event", "unparseable"]
    event_id: str | None
    event_type: str | None
    receive_count: int
    resolution: str


EVENT_TYPES["alert.webhook_message_dead_lettered"] = (
    WebhookMessageDeadLetteredData,
    "Operators: a domain event could not be fanned out to webhook subscriptions (its message "
    "failed repeatedly and reached the dead-letter queue); replay it once the cause is fixed. "
    "A delivery that dead-letters is reported as `webhook.delivery_failed` instead.",
)


def aggregate_keys(event_type: str) -> tuple[tuple[str, str], ...]:
    """The (aggregate type, data field) candidates for a type: its own entry, else the longest
    matching prefix."""
    if event_type in AGGREGATE_KEYS:
        return AGGREGATE_KEYS[event_type]
    prefixes = [p for p in AGGREGATE_KEYS if p.endswith(".") and event_type.startswith(p)]
    return AGGREGATE_KEYS[max(prefixes, key=len)] if prefixes else ()


def aggregate_of(event_type: str, data: dict[str, object], tenant_id: str) -> tuple[str, str]:
    """(aggregate type, aggregate id) of an event: the first candidate field set in `data`, or
    the tenant (operator alerts and tenant-wide settings have no narrower subject)."""
    for aggregate_type, field in aggregate_keys(event_type):
        value = data.get(field)
        if isinstance(value, str) and value:
            return aggregate_type, value
    return TENANT_AGGREGATE, tenant_id


ORDERING_DOCS = """\
## Ordering

Every event names the thing it is about in `aggregate` (`{"type": "order", "id": "ord_..."}`) and
carries `sequence`: its position among that aggregate's events (1, 2, 3, ...), assigned in the
same transaction that recorded the change, so it follows the order in which the changes were
committed, with no gaps and no repeats.

- **Ordered:** the events of one aggregate, by `sequence`. Events committed together (an order's
  `order.partially_filled` and `order.filled` in one step) get consecutive numbers in the order
  they happened.
- **Not ordered:** events of different aggregates (compare `occurred_at` only as a hint), and
  *delivery*: webhooks, SNS pushes, retries and replays may arrive in any order and more than
  once. `sequence` is the contract, not arrival order.
- **Using it:** keep the highest `sequence` applied per `(aggregate.type, aggregate.id)`; an
  event at or below it is a duplicate or stale and can be dropped (the consumer kit's
  `AggregateSequenceTracker` does this); an event more than one above it means earlier ones are
  still on their way: apply it anyway if it carries the full state (order events do), or hold it
  until the gap fills (replay the missing range with `POST /v1/webhooks/{id}/replay`).
- `webhook.ping` is never committed and has `sequence: null`; events recorded before sequences
  existed have `aggregate` and `sequence` null.

Aggregate of each type: the `data` field named below (when it is null, the tenant itself,
`{"type": "tenant", "id": tenant_id}`).
"""


def ordering_docs() -> str:
    """The ordering contract and each type's aggregate, for the generated consumer docs."""
    lines = [ORDERING_DOCS]
    for name in EVENT_TYPES:
        keys = aggregate_keys(name)
        named = " or ".join(f"`{kind}` (`data.{field}`)" for kind, field in keys) or "`tenant`"
        lines.append(f"- `{name}`: {named}")
    return "\n".join(lines) + "\n"


# ---- end events-order
# ---- billing-stripe (issue 13): plan changes and failed payments, from Stripe's webhooks.
class PlanChangedData(_Data):
    old_plan: Literal["free", "pro", "team"]
    new_plan: Literal["free", "pro", "team"]
    reason: str  # the Stripe event type that caused it, or `grace_period_expired`
    subscription_id: str | None
    subscription_status: str | None


class PaymentFailedData(_Data):
    plan: Literal["free", "pro", "team"]
    subscription_id: str | None
    invoice_id: str | None
    grace_until: str


EVENT_TYPES.update(
    {
        "billing.plan_changed": (
            PlanChangedData,
            "The tenant's plan changed: a checkout completed, the subscription changed or ended, or "
            "a failed payment outlasted its grace period. Limits of the new plan apply from now on.",
        ),
        "billing.payment_failed": (
            PaymentFailedData,
            "A subscription payment failed. The plan holds until `grace_until`; unless a payment "
            "succeeds before then, the tenant drops to `free`.",
        ),
    }
)
# ---- end billing-stripe


def data_schema(event_type: str) -> type[_Data]:
    return EVENT_TYPES[event_type][0]


def consumer_docs() -> str:
    """Markdown describing each event type and its `data` JSON schema."""
    lines = [
        "# Domain events",
        "",
        "Envelope: `{id, type, version, tenant_id, occurred_at, source, data, aggregate, sequence}`.",
        "Delivery is at least once: deduplicate on `id`.",
        "",
        ordering_docs(),
    ]
    for name, (model, summary) in EVENT_TYPES.items():
        lines += [
            f"## `{name}`",
            "",
            f"Version {event_version(name)}. {summary}",
            "",
            "```json",
            json.dumps(model.model_json_schema(), indent=2),
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(consumer_docs())  # noqa: T201
