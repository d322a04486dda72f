"""Domain event envelope and catalog."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from shared.events.catalog import DATA_PACKAGE, consumer_docs, data_schema
from shared.events.catalog import EVENT_TYPES as CATALOG
from shared.events.data import EventData
from shared.events.data.alerts import EventQuarantinedData, TaskDeadLetteredData, WebhookMessageDeadLetteredData
from shared.events.data.billing import PaymentFailedData, PlanChangedData
from shared.events.data.bots import BotData
from shared.events.data.exchange_accounts import ExchangeAccountData
from shared.events.data.orders import LateOrderAdoptedData, OrderData
from shared.events.data.reconciliation import DriftData
from shared.events.data.risk import KillSwitchData, RiskBreachData, RiskSettingsData
from shared.events.data.signals import SignalData
from shared.events.data.tenants import ApiKeyData, InvitationData, TenantCreatedData
from shared.events.data.webhooks import WebhookDeliveryFailedData, WebhookDisabledData, WebhookPingData
from shared.events.envelope import DomainEvent, new_event

ENVELOPE_KEYS = {"id", "type", "version", "tenant_id", "occurred_at", "source", "data", "aggregate", "sequence"}


def bot_data(**overrides: object) -> BotData:
    values: dict[str, object] = {
        "bot_id": "bot_1",
        "name": "b",
        "symbol": "BTC/USDT",
        "exchange_account_id": "paper",
        "strategy_type": "dca",
        "status": "stopped",
    }
    values.update(overrides)
    return BotData.model_validate(values)


def order_data(**overrides: object) -> OrderData:
    values: dict[str, object] = {
        "order_id": "ord_1",
        "client_order_id": "co1",
        "bot_id": None,
        "exchange_account_id": "paper",
        "exchange": "paper",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "market",
        "amount": "1",
        "price": None,
        "status": "OPEN",
        "filled": "0",
        "average_price": None,
        "fee_cost": "0",
        "fee_currency": None,
    }
    values.update(overrides)
    return OrderData.model_validate(values)


SAMPLES: dict[str, BaseModel] = {
    "tenant.created": TenantCreatedData(tenant_id="ten_1", name="acme", plan="free"),
    "api_key.created": ApiKeyData(key_id="key_1", name="ci", scopes=["read"]),
    "invitation.created": InvitationData(invitation_id="inv_1", role="member"),
    "invitation.accepted": InvitationData(invitation_id="inv_1", role="member", user_id="usr_1"),
    "api_key.revoked": ApiKeyData(key_id="key_1", name="ci", scopes=["read"]),
    "bot.created": bot_data(),
    "bot.updated": bot_data(changed_fields=["name"]),
    "bot.started": bot_data(status="running", previous_status="stopped"),
    "bot.paused": bot_data(status="paused", previous_status="running"),
    "bot.stopped": bot_data(status="stopped", previous_status="running"),
    "bot.deleted": bot_data(),
    "exchange_account.created": ExchangeAccountData(account_id="acct_1", exchange="binance", label="x", sandbox=True),
    "exchange_account.deleted": ExchangeAccountData(account_id="acct_1", exchange="binance", label="x", sandbox=True),
    **{
        t: order_data(status=s)
        for t, s in [
            ("order.created", "PENDING_SUBMIT"),
            ("order.submitted", "OPEN"),
            ("order.partially_filled", "PARTIALLY_FILLED"),
            ("order.filled", "FILLED"),
            ("order.canceled", "CANCELED"),
            ("order.rejected", "REJECTED"),
            ("order.expired", "EXPIRED"),
            ("order.unknown", "UNKNOWN"),
            ("order.not_placed", "NOT_PLACED"),
            ("order.found_after_not_placed", "FILLED"),
        ]
    },
    "risk.limit_breached": RiskBreachData(order_id="ord_1", bot_id=None, rule="kill_switch", message="m"),
    "risk.kill_switch_engaged": KillSwitchData(engaged=True, bots_stopped=1, orders_canceling=2),
    "risk.kill_switch_released": KillSwitchData(engaged=False, bots_stopped=0, orders_canceling=0),
    "risk.settings_changed": RiskSettingsData(symbol_allowlist=["BTC/USDT"], max_price_deviation_pct="5"),
    "reconciliation.drift_detected": DriftData(
        exchange_account_id="acct_1",
        exchange="binance",
        kind="unknown_open_order",
        exchange_order_id="1",
        client_order_id=None,
        symbol="BTC/USDT",
        detail="d",
    ),
    "alert.late_order_adopted": LateOrderAdoptedData(
        order_id="ord_1",
        client_order_id="c",
        exchange_account_id="a",
        exchange="binance",
        symbol="BTC/USDT",
        exchange_status="closed",
        filled="1",
        not_placed_at=None,
        found_at="t",
    ),
    "alert.event_quarantined": EventQuarantinedData(event_id="evt_1", event_type="order.filled", problem="p"),
    "alert.trade_task_dead_lettered": TaskDeadLetteredData(
        task_kind="submit", order_id="ord_1", receive_count=5, resolution="r"
    ),
    # webhooks-out (issue 10)
    "webhook.ping": WebhookPingData(subscription_id="wh_1", message="hello"),
    "webhook.delivery_failed": WebhookDeliveryFailedData(
        subscription_id="wh_1",
        event_id="evt_1",
        event_type="order.filled",
        attempts=90,
        first_attempt_at="t",
        last_status_code=500,
        last_error="http_error",
    ),
    "webhook.disabled": WebhookDisabledData(subscription_id="wh_1", reason="r", consecutive_failures=5),
}
# ---- signals
SAMPLES |= {
    "bot.signal_secret_rotated": bot_data(strategy_type="signal"),
    "signal.rejected": SignalData(
        signal_id="sig_1",
        bot_id="bot_1",
        action="enter_long",
        symbol="BTC/USDT",
        status="refused",
        reason="stale_signal",
    ),
    "signal.executed": SignalData(
        signal_id="sig_1",
        bot_id="bot_1",
        action="enter_long",
        symbol="BTC/USDT",
        status="executed",
        order_id="ord_1",
        side="buy",
        amount="0.1",
        position_before="0",
        target_position="0.1",
    ),
    "signal.failed": SignalData(
        signal_id="sig_1",
        bot_id="bot_1",
        action="exit_long",
        symbol="BTC/USDT",
        status="failed",
        reason="bot_not_running",
    ),
}
# ---- billing
SAMPLES |= {
    "billing.plan_changed": PlanChangedData(
        old_plan="pro",
        new_plan="free",
        reason="stripe:customer.subscription.deleted",
        subscription_id="sub_1",
        subscription_status="canceled",
    ),
    "billing.payment_failed": PaymentFailedData(
        plan="pro", subscription_id="sub_1", invoice_id="in_1", grace_until="2026-12-07T00:00:00+00:00"
    ),
}
# ---- events-order
SAMPLES["alert.webhook_message_dead_lettered"] = WebhookMessageDeadLetteredData(
    message_kind="event", event_id="evt_1", event_type="bot.started", receive_count=5, resolution="r"
)


def test_samples_cover_catalog() -> None:
    assert set(SAMPLES) == set(CATALOG)


@pytest.mark.parametrize("event_type", list(SAMPLES))
def test_new_event_envelope(event_type: str) -> None:
    data = SAMPLES[event_type]
    before = datetime.now(UTC) - timedelta(seconds=1)
    event = new_event(event_type, tenant_id="ten_1", source="cryptoorchestrator.test", data=data)
    dumped = event.model_dump(mode="json")
    assert set(dumped) == ENVELOPE_KEYS
    assert dumped["type"] == event_type
    assert dumped["version"] == 1
    assert dumped["tenant_id"] == "ten_1"
    assert dumped["source"] == "cryptoorchestrator.test"
    assert re.fullmatch(r"evt_[0-9a-z]{26}", dumped["id"])
    assert dumped["data"] == data.model_dump(mode="json")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", dumped["occurred_at"])
    occurred = datetime.fromisoformat(dumped["occurred_at"].replace("Z", "+00:00"))
    assert before <= occurred <= datetime.now(UTC) + timedelta(seconds=1)
    # The envelope is plain JSON.
    assert json.loads(event.model_dump_json()) == dumped


def test_event_ids_are_unique() -> None:
    events = [new_event("bot.created", tenant_id="t", source="s", data=bot_data()) for _ in range(50)]
    assert len({e.id for e in events}) == 50


def test_envelope_is_frozen() -> None:
    event = new_event("bot.created", tenant_id="t", source="s", data=bot_data())
    with pytest.raises(ValidationError):
        event.tenant_id = "other"  # type: ignore[misc]
    assert event.tenant_id == "t"


@pytest.mark.parametrize("event_type", ["bot.exploded", "", "BOT.CREATED", "bot.created ", "tenant"])
def test_unknown_event_type_raises_value_error(event_type: str) -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        new_event(event_type, tenant_id="t", source="s", data=bot_data())


class BotDataWithSecret(BotData):
    api_secret: str = "hunter2"


class KeyDataWithPlaintext(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    plaintext: str


def test_extra_field_in_data_rejected() -> None:
    with pytest.raises(ValidationError):
        new_event(
            "bot.created", tenant_id="t", source="s", data=BotDataWithSecret.model_validate(bot_data().model_dump())
        )
    with pytest.raises(ValidationError):
        new_event(
            "api_key.created",
            tenant_id="t",
            source="s",
            data=KeyDataWithPlaintext(key_id="k", name="n", scopes=[], plaintext="co_secret"),
        )


def test_data_of_another_type_rejected() -> None:
    with pytest.raises(ValidationError):
        new_event("tenant.created", tenant_id="t", source="s", data=bot_data())
    with pytest.raises(ValidationError):
        new_event("bot.created", tenant_id="t", source="s", data=SAMPLES["api_key.created"])


def test_invalid_status_in_data_rejected() -> None:
    class LooseBotData(BaseModel):
        bot_id: str = "bot_1"
        name: str = "b"
        symbol: str = "BTC/USDT"
        exchange_account_id: str = "paper"
        strategy_type: str = "dca"
        status: str = "exploded"

    with pytest.raises(ValidationError):
        new_event("bot.created", tenant_id="t", source="s", data=LooseBotData())


def test_data_schema_lookup() -> None:
    for event_type, (data_model, summary) in CATALOG.items():
        model = data_schema(event_type)
        assert f"{model.__module__}.{model.__name__}" == f"{DATA_PACKAGE}.{data_model}"
        assert issubclass(model, EventData)
        assert type(SAMPLES[event_type]) is model
        assert summary
    assert data_schema("bot.started") is BotData
    with pytest.raises(KeyError):
        data_schema("nope")


def test_every_data_model_is_named_by_the_catalog() -> None:
    """A model added to shared/events/data but not to the catalog would be built for nothing."""
    named = {event_type.data_model for event_type in CATALOG.values()}
    package = importlib.import_module(DATA_PACKAGE)
    defined = set()
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{DATA_PACKAGE}.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, EventData) and value.__module__ == module.__name__:
                defined.add(f"{module_info.name}.{name}")
    assert defined == named


def test_the_catalog_builds_no_model_when_imported() -> None:
    """Importing the registry must stay cheap: models load only with the module that publishes them."""
    probe = (
        "import sys, shared.events.catalog; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'shared.events.data'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_domain_event_model_fields() -> None:
    assert set(DomainEvent.model_fields) == ENVELOPE_KEYS


def test_consumer_docs_mentions_every_type() -> None:
    docs = consumer_docs()
    for event_type, (_model, summary) in CATALOG.items():
        model = data_schema(event_type)
        assert f"## `{event_type}`" in docs
        assert summary in docs
        for field in model.model_fields:
            assert f'"{field}"' in docs
    for key in ENVELOPE_KEYS:
        assert key in docs
    assert docs.count("## `") == len(CATALOG)


# ---- events-order: aggregates and sequences
def test_every_type_names_aggregate_fields_its_data_has() -> None:
    from shared.events.catalog import aggregate_keys

    for event_type in CATALOG:
        for _kind, field in aggregate_keys(event_type):
            assert field in data_schema(event_type).model_fields, (event_type, field)


def test_aggregate_is_the_subject_named_in_data_else_the_tenant() -> None:
    order = new_event("order.filled", tenant_id="ten_1", source="s", data=order_data(order_id="ord_9"))
    assert order.aggregate is not None and order.aggregate.model_dump() == {"type": "order", "id": "ord_9"}
    assert order.sequence is None  # numbered when committed, not when built
    bot = new_event("bot.signal_secret_rotated", tenant_id="ten_1", source="s", data=bot_data(bot_id="bot_7"))
    assert bot.aggregate is not None and (bot.aggregate.type, bot.aggregate.id) == ("bot", "bot_7")
    breach = RiskBreachData(order_id=None, bot_id="bot_7", rule="max_order", message="m")
    tenant_wide = new_event("risk.limit_breached", tenant_id="ten_1", source="s", data=breach)
    assert tenant_wide.aggregate is not None and tenant_wide.aggregate.model_dump() == {"type": "tenant", "id": "ten_1"}
    on_order = new_event(
        "risk.limit_breached", tenant_id="ten_1", source="s", data=breach.model_copy(update={"order_id": "ord_2"})
    )
    assert on_order.aggregate is not None and on_order.aggregate.id == "ord_2"


def test_envelopes_without_aggregate_or_sequence_still_parse() -> None:
    old = {
        "id": "evt_1",
        "type": "bot.created",
        "version": 1,
        "tenant_id": "ten_1",
        "occurred_at": "2026-01-01T00:00:00Z",
        "source": "s",
        "data": {},
    }
    event = DomainEvent.model_validate(old)
    assert event.aggregate is None and event.sequence is None


def test_consumer_docs_state_the_ordering_contract_and_each_aggregate() -> None:
    docs = consumer_docs()
    assert "## Ordering" in docs
    assert "- `order.filled`: `order` (`data.order_id`)" in docs
    assert "- `alert.event_quarantined`: `tenant`" in docs
