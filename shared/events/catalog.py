"""Every domain event type: what it means and which model is the schema of its `data`, in one place.

Consumer documentation is generated from this table (`python -m shared.events.catalog`), so the
docs and the code cannot drift.

The table names each model (`"orders.OrderData"`: a class in shared/events/data/orders.py) and
resolves it on demand, so importing the catalog builds no model: a function builds only the
models of the events it publishes, by importing their module.
"""

from __future__ import annotations

import importlib
import json
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from shared.events.data import EventData

DATA_PACKAGE = "shared.events.data"


class EventType(NamedTuple):
    """One event type: its `data` model, as `"<module of DATA_PACKAGE>.<class>"`, and what it means."""

    data_model: str
    summary: str

    def model(self) -> type[EventData]:
        """The `data` model, imported on first use (a sys.modules lookup once its module is loaded)."""
        module, name = self.data_model.rsplit(".", 1)
        return cast("type[EventData]", getattr(importlib.import_module(f"{DATA_PACKAGE}.{module}"), name))


EVENT_TYPES: dict[str, EventType] = {
    "tenant.created": EventType("tenants.TenantCreatedData", "A tenant signed up."),
    "api_key.created": EventType("tenants.ApiKeyData", "An API key was issued (the key itself is never in events)."),
    "api_key.revoked": EventType("tenants.ApiKeyData", "An API key was revoked; it stops working at once."),
    "invitation.created": EventType(
        "tenants.InvitationData", "An admin invited someone to join the tenant with a role (takes a seat)."
    ),
    "invitation.accepted": EventType(
        "tenants.InvitationData", "An invitation was accepted: `user_id` is the new user of the tenant."
    ),
    "bot.created": EventType("bots.BotData", "A bot was created (always in status `stopped`)."),
    "bot.updated": EventType("bots.BotData", "A bot's configuration changed; `changed_fields` lists what."),
    "bot.started": EventType("bots.BotData", "A bot started or resumed (`previous_status` says which)."),
    "bot.paused": EventType("bots.BotData", "A running bot was paused."),
    "bot.stopped": EventType("bots.BotData", "A bot was stopped."),
    "bot.deleted": EventType("bots.BotData", "A bot was deleted."),
    "exchange_account.created": EventType(
        "exchange_accounts.ExchangeAccountData", "Exchange credentials were verified and stored (encrypted)."
    ),
    "exchange_account.deleted": EventType(
        "exchange_accounts.ExchangeAccountData", "An exchange account and its credentials were deleted."
    ),
    "order.created": EventType("orders.OrderData", "An order intent was recorded (`PENDING_SUBMIT`) and queued."),
    "order.submitted": EventType("orders.OrderData", "The exchange accepted the order."),
    "order.partially_filled": EventType("orders.OrderData", "Part of the order filled; `filled` is cumulative."),
    "order.filled": EventType("orders.OrderData", "The order filled completely."),
    "order.canceled": EventType("orders.OrderData", "The order was canceled (what filled before stays filled)."),
    "order.rejected": EventType(
        "orders.OrderData", "Refused by a risk rule or by the exchange; `reason` says why. Never retried."
    ),
    "order.expired": EventType("orders.OrderData", "The exchange expired the order."),
    "order.unknown": EventType(
        "orders.OrderData", "The exchange's answer was ambiguous; the reconciler will find out."
    ),
    "order.not_placed": EventType(
        "orders.OrderData",
        "An ambiguous order was not found on the exchange after the submit deadline "
        "and repeated lookups spaced in time. It is never resent: the owner (you or "
        "the bot) may act again with a new order. It is still looked up for the watch "
        "window and adopted if it appears (`order.found_after_not_placed`).",
    ),
    "order.found_after_not_placed": EventType(
        "orders.OrderData",
        "An order declared not placed appeared on the exchange and was "
        "adopted: its state and fills are recorded; what is still open of "
        "it is canceled.",
    ),
    "risk.limit_breached": EventType("risk.RiskBreachData", "A risk rule stopped an order; `rule` names it."),
    "risk.kill_switch_engaged": EventType(
        "risk.KillSwitchData", "All bots stopped and open orders are being canceled."
    ),
    "risk.kill_switch_released": EventType("risk.KillSwitchData", "Trading is allowed again."),
    "risk.settings_changed": EventType("risk.RiskSettingsData", "The tenant's risk settings changed (the new values)."),
    "reconciliation.drift_detected": EventType(
        "reconciliation.DriftData", "The exchange holds an order our records do not explain."
    ),
    "alert.late_order_adopted": EventType(
        "orders.LateOrderAdoptedData",
        "Operators: an order declared not placed appeared on the exchange (lagging lookups) and was adopted.",
    ),
    "alert.event_quarantined": EventType(
        "alerts.EventQuarantinedData",
        "Operators: an outbox row could not be read and was set aside; it no longer blocks the relay.",
    ),
    # ---- signals
    "signal.rejected": EventType(
        "signals.SignalData", "A bot refused a signal; `reason` says why (stale, symbol_mismatch, ...)."
    ),
    "signal.executed": EventType(
        "signals.SignalData",
        "A signal was carried out: `order_id` is the order it created, or null "
        "when the bot already held the wanted position.",
    ),
    "signal.failed": EventType(
        "signals.SignalData",
        "An accepted signal could not be carried out (bot stopped, amount below the "
        "market minimum, ...); `reason` says why.",
    ),
    "bot.signal_secret_rotated": EventType(
        "bots.BotData",
        "A signal bot's secret was replaced; the old one stops working at once (the secret is never in events).",
    ),
    "alert.trade_task_dead_lettered": EventType(
        "alerts.TaskDeadLetteredData",
        "A trade task failed repeatedly and reached the dead-letter queue.",
    ),
}


# ---- webhooks-out (issue 10): events about webhook delivery itself. A `webhook.*` event about a
# subscription is never delivered to that same subscription (no feedback loop).
EVENT_TYPES.update(
    {
        "webhook.ping": EventType(
            "webhooks.WebhookPingData",
            "Sent by `POST /v1/webhooks/{id}/test` to that subscription only; never "
            "published to other subscribers or the SNS topic.",
        ),
        "webhook.delivery_failed": EventType(
            "webhooks.WebhookDeliveryFailedData",
            "A delivery was retried for the whole retry window (24 h) without a 2xx and was given up.",
        ),
        "webhook.disabled": EventType(
            "webhooks.WebhookDisabledData",
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


EVENT_TYPES["alert.webhook_message_dead_lettered"] = EventType(
    "alerts.WebhookMessageDeadLetteredData",
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
EVENT_TYPES.update(
    {
        "billing.plan_changed": EventType(
            "billing.PlanChangedData",
            "The tenant's plan changed: a checkout completed, the subscription changed or ended, or "
            "a failed payment outlasted its grace period. Limits of the new plan apply from now on.",
        ),
        "billing.payment_failed": EventType(
            "billing.PaymentFailedData",
            "A subscription payment failed. The plan holds until `grace_until`; unless a payment "
            "succeeds before then, the tenant drops to `free`.",
        ),
    }
)
# ---- end billing-stripe


def data_schema(event_type: str) -> type[EventData]:
    """The model of a type's `data` (KeyError for an unknown type)."""
    return EVENT_TYPES[event_type].model()


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
    for name, event_type in EVENT_TYPES.items():
        lines += [
            f"## `{name}`",
            "",
            f"Version {event_version(name)}. {event_type.summary}",
            "",
            "```json",
            json.dumps(event_type.model().model_json_schema(), indent=2),
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(consumer_docs())  # noqa: T201
