"""Signal bots end to end through the handlers: secrets, every refusal, deduplication, target
positions, and buys and sells on the paper exchange."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.signals import SignalBot, SignalRig, bot_position, create_signal_bot
from tests.support.tenants import new_tenant


@pytest.fixture(scope="session")
def signals_handler() -> Any:
    from functions.signals_api.app import lambda_handler

    return lambda_handler


@pytest.fixture
def signals(signals_handler: Any) -> LambdaApi:
    return LambdaApi(signals_handler)  # no caller: the route has no authorizer


@pytest.fixture
def rig(test_cloud: TestCloud) -> Iterator[SignalRig]:
    rig = SignalRig(test_cloud)
    rig.run()  # whatever earlier tests left behind
    yield rig


@pytest.fixture
def bot(bots_a: LambdaApi, signals: LambdaApi) -> SignalBot:
    return create_signal_bot(bots_a, signals)


def _now_iso(offset_seconds: float = 0) -> str:
    from shared.clock import utc_now

    return (utc_now() + timedelta(seconds=offset_seconds)).isoformat().replace("+00:00", "Z")


def _records(tenant_id: str, bot_id: str) -> list[Any]:
    from shared.signals.models import list_bot_signals

    return list_bot_signals(tenant_id, bot_id, limit=100)


def _record(tenant_id: str, bot_id: str, signal_id: str) -> Any:
    from shared.signals.models import get_signal

    record = get_signal(tenant_id, bot_id, signal_id)
    assert record is not None
    return record


def three_commas(bot: SignalBot, action: str = "enter_long", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "secret": bot.secret,
        "max_lag": "300",
        "timestamp": _now_iso(),
        "trigger_price": "65000",
        "tv_exchange": "BINANCE",
        "tv_instrument": "BTCUSDT",
        "action": action,
        "bot_uuid": "c0ffee00-0000-4000-8000-000000000000",
    }
    body.update(extra)
    return body


# ------------------------------------------------------------------ the secret


def test_the_secret_is_shown_at_creation_only_and_stored_as_a_hash(
    bots_a: LambdaApi, signals: LambdaApi, tenant_a: Caller
) -> None:
    from shared.signals.secrets import SignalSecretRecord

    reply = bots_a.post(
        "/bots",
        body={
            "name": "s",
            "symbol": "BTC/USDT",
            "strategy": {"type": "signal", "params": {}},
            "risk": {"max_position_notional": "1000", "max_daily_loss": "100", "max_open_orders": 5},
        },
        headers={"Idempotency-Key": "create-sig-1"},
    )
    assert reply.status == 201
    secret = reply.json["signal_secret"]
    assert secret.startswith("sigsec_") and len(secret) >= 40
    bot_id = reply.json["id"]
    replay = bots_a.post(
        "/bots",
        body={
            "name": "s",
            "symbol": "BTC/USDT",
            "strategy": {"type": "signal", "params": {}},
            "risk": {"max_position_notional": "1000", "max_daily_loss": "100", "max_open_orders": 5},
        },
        headers={"Idempotency-Key": "create-sig-1"},
    )
    assert replay.json["id"] == bot_id
    assert "signal_secret" not in replay.json
    assert "signal_secret" not in bots_a.get(f"/bots/{bot_id}").json
    row = SignalSecretRecord.get(bot_id)
    assert row.tenant_id == tenant_a.tenant_id
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_other_strategies_get_no_secret_and_cannot_rotate_one(bots_a: LambdaApi) -> None:
    reply = bots_a.post(
        "/bots",
        body={
            "name": "x",
            "symbol": "BTC/USDT",
            "strategy": {"type": "sma_cross", "params": {"fast": 2, "slow": 5}},
            "risk": {"max_position_notional": "1000", "max_daily_loss": "100", "max_open_orders": 5},
        },
        headers={"Idempotency-Key": "create-sma-1"},
    )
    assert "signal_secret" not in reply.json
    rotated = bots_a.post(f"/bots/{reply.json['id']}/signal-secret")
    assert rotated.status == 409
    assert rotated.error_code == "not_a_signal_bot"


def test_rotation_replaces_the_secret_at_once(bot: SignalBot, rig: SignalRig) -> None:
    rotated = bot.bots.post(f"/bots/{bot.bot_id}/signal-secret")
    assert rotated.status == 200, rotated.text
    new_secret = rotated.json["signal_secret"]
    assert new_secret != bot.secret
    old = bot.send(three_commas(bot))
    assert old.status == 401
    bot.secret = new_secret
    assert bot.send(three_commas(bot)).status == 202


def test_a_wrong_secret_and_an_unknown_bot_get_the_same_answer(bot: SignalBot) -> None:
    wrong = bot.send(three_commas(bot, secret="sigsec_" + "x" * 43))
    unknown = bot.send(three_commas(bot), bot_id="bot_" + "0" * 26)
    missing = bot.send({k: v for k, v in three_commas(bot).items() if k != "secret"})
    not_an_id = bot.send(three_commas(bot), bot_id="anything")
    for reply in (wrong, unknown, missing, not_an_id):
        assert reply.status == 401
        assert reply.json == wrong.json
    assert wrong.error_code == "invalid_signal_secret"


def test_the_secret_may_come_in_a_header_or_a_secret_line(bot: SignalBot, rig: SignalRig) -> None:
    by_header = bot.send(
        {k: v for k, v in three_commas(bot).items() if k != "secret"}, headers={"X-Signal-Secret": bot.secret}
    )
    assert by_header.status == 202, by_header.text
    by_line = bot.send(text=f"SECRET={bot.secret}\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nTIME={_now_iso()}")
    assert by_line.status == 202, by_line.text


def test_a_tenants_secret_never_opens_another_tenants_bot(
    bot: SignalBot, bots_b: LambdaApi, signals: LambdaApi, tenant_a: Caller, rig: SignalRig
) -> None:
    other = create_signal_bot(bots_b, signals)
    # B's valid secret on A's bot, and A's on B's: both refused, nothing recorded or queued.
    assert bot.send(three_commas(other), bot_id=bot.bot_id).status == 401
    assert other.send(three_commas(bot), bot_id=other.bot_id).status == 401
    # Tenant hints in the body or headers are ignored: the tenant comes from the secret's row.
    hinted = other.send(
        {**three_commas(other), "tenant_id": tenant_a.tenant_id}, headers={"X-Tenant-Id": tenant_a.tenant_id}
    )
    assert hinted.status == 202
    assert _records(tenant_a.tenant_id, bot.bot_id) == []
    assert _records(tenant_a.tenant_id, other.bot_id) == []
    assert rig.drain_signals() == 1


# ------------------------------------------------------------------ refusals


def _refused(bot: SignalBot, tenant: Caller, reply: Any, status: int, code: str, rig: SignalRig) -> None:
    assert reply.status == status, reply.text
    assert reply.error_code == code
    signal_id = reply.json["error"]["details"]["signal_id"]
    record = _record(tenant.tenant_id, bot.bot_id, signal_id)
    assert (record.status, record.reason, int(record.http_status)) == ("refused", code, status)
    assert rig.drain_signals() == 0, "a refused signal is never queued"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"timestamp": "OLD"}, 422, "stale_signal"),
        ({"timestamp": "LAGGED", "max_lag": "10"}, 422, "stale_signal"),
        ({"timestamp": "FUTURE"}, 422, "timestamp_in_future"),
        ({"tv_instrument": "ETHUSDT"}, 422, "symbol_mismatch"),
        ({"action": "moon"}, 422, "unknown_action"),
        ({"action": "enter_short"}, 422, "short_not_supported"),
        ({"action": "exit_short"}, 422, "short_not_supported"),
        (
            {"strategy_info": {"market_position": "short", "market_position_size": "1"}, "action": "exit_long"},
            422,
            "short_not_supported",
        ),
        ({"trigger_price": "{{close}}"}, 422, "unresolved_placeholder"),
        ({"order": {"amount": "-1", "currency_type": "base"}}, 400, "malformed_signal"),
    ],
)
def test_each_refusal_is_a_clear_4xx_recorded_and_never_queued(
    bot: SignalBot, tenant_a: Caller, rig: SignalRig, change: dict[str, Any], status: int, code: str
) -> None:
    body = three_commas(bot)
    body.update(change)
    moments = {"OLD": -400, "LAGGED": -20, "FUTURE": 600}
    if body["timestamp"] in moments:
        body["timestamp"] = _now_iso(moments[body["timestamp"]])
    _refused(bot, tenant_a, bot.send(body), status, code, rig)


def test_a_bot_that_is_not_running_refuses_signals(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    assert bot.bots.post(f"/bots/{bot.bot_id}/pause").status == 200
    _refused(bot, tenant_a, bot.send(three_commas(bot)), 409, "bot_not_running", rig)


def test_actions_the_bot_does_not_allow_are_refused(
    bots_a: LambdaApi, signals: LambdaApi, tenant_a: Caller, rig: SignalRig
) -> None:
    buy_only = create_signal_bot(bots_a, signals, allowed_actions=["buy"])
    _refused(buy_only, tenant_a, buy_only.send(three_commas(buy_only, "exit_long")), 422, "action_not_allowed", rig)


def test_a_malformed_body_is_a_400(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    # Readable secret (header), unreadable body: refused and recorded for the bot.
    _refused(
        bot, tenant_a, bot.send(text="{not json", headers={"X-Signal-Secret": bot.secret}), 400, "malformed_signal", rig
    )
    # No way to read a secret: the same 400 for any bot, recorded nowhere.
    anonymous = bot.send(text="just some words")
    assert (anonymous.status, anonymous.error_code) == (400, "malformed_signal")
    assert rig.drain_signals() == 0


def test_a_body_over_64_kb_is_refused(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    padded = {**three_commas(bot), "comment": "x" * 70_000}
    _refused(bot, tenant_a, bot.send(padded, headers={"X-Signal-Secret": bot.secret}), 413, "payload_too_large", rig)
    assert bot.send(padded).status == 413


def test_more_than_the_per_bot_rate_is_refused(
    bot: SignalBot, tenant_a: Caller, rig: SignalRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings
    from shared.signals import intake

    settings = replace(get_settings(), signal_rate_limit=3, signal_rate_window_seconds=3600)
    monkeypatch.setattr(intake, "get_settings", lambda: settings)
    for i in range(3):
        assert bot.send(three_commas(bot, timestamp=_now_iso(-i))).status == 202
    limited = bot.send(three_commas(bot, timestamp=_now_iso(-5)))
    assert int(limited.headers["retry-after"]) >= 1
    assert rig.drain_signals() == 3
    _refused(bot, tenant_a, limited, 429, "signal_rate_limited", rig)


def test_duplicates_answer_200_with_the_first_id_and_queue_nothing(
    bot: SignalBot, tenant_a: Caller, rig: SignalRig
) -> None:
    body = three_commas(bot)
    first = bot.send(body)
    assert first.status == 202
    again = bot.send(body)  # the same body
    same_event = bot.send({**body, "trigger_price": "65001"})  # same timestamp and action, other body
    for reply in (again, same_event):
        assert reply.status == 200, reply.text
        assert reply.json == {"signal_id": first.json["signal_id"], "status": "duplicate"}
    text = f"SECRET={bot.secret};SYMBOL=BTCUSDT;SIGNAL=BUY"
    text_first = bot.send(text=text)
    assert bot.send(text=text).json["signal_id"] == text_first.json["signal_id"]
    assert rig.drain_signals() == 2
    statuses = sorted(r.status for r in _records(tenant_a.tenant_id, bot.bot_id))
    assert statuses == ["duplicate", "duplicate", "duplicate", "executed", "executed"]


# ------------------------------------------------------------------ execution on the paper exchange


def test_a_text_alert_buys_and_a_json_exit_sells_on_paper(
    bot: SignalBot, tenant_a: Caller, rig: SignalRig, orders_handler: Any, bus_tap: BusTap
) -> None:
    orders = LambdaApi(orders_handler, tenant_a)
    entry = bot.send(text=f"SECRET={bot.secret}\nSYMBOL=BINANCE:BTCUSDT\nSIGNAL=BUY\nVOLUME=0.002")
    assert entry.status == 202, entry.text
    assert entry.json["status"] == "accepted"
    assert rig.run() == (1, 1)
    assert bot_position(tenant_a.tenant_id, bot) == Decimal("0.002")
    exit_ = bot.send(three_commas(bot, "exit_long"))
    assert exit_.status == 202, exit_.text
    assert rig.run() == (1, 1)
    assert bot_position(tenant_a.tenant_id, bot) == 0
    mine = [o for o in orders.get("/orders?limit=100").json["items"] if o["bot_id"] == bot.bot_id]
    assert [(o["side"], o["amount"], o["status"]) for o in reversed(mine)] == [
        ("buy", "0.002", "FILLED"),
        ("sell", "0.002", "FILLED"),
    ]
    executed = _record(tenant_a.tenant_id, bot.bot_id, exit_.json["signal_id"])
    assert executed.status == "executed" and executed.order_id == mine[0]["id"]
    types = [e["type"] for e in bus_tap.of_tenant(tenant_a.tenant_id, expect=8) if e["type"].startswith("signal.")]
    assert types == ["signal.executed", "signal.executed"]
    # Each signal and its outcome is on the bot's activity, newest first.
    from functions.bots_api.app import lambda_handler as bots_lambda

    activity = LambdaApi(bots_lambda, tenant_a).get(f"/bots/{bot.bot_id}/activity").json["items"]
    signals = [a for a in activity if a["kind"] == "signal"]
    assert [a["data"]["signal_id"] for a in signals] == [exit_.json["signal_id"], entry.json["signal_id"]]
    assert all("executed" in a["summary"] for a in signals)


def test_enter_long_without_an_amount_buys_the_bots_sized_position(
    bot: SignalBot, tenant_a: Caller, rig: SignalRig
) -> None:
    from shared.exchange.paper import PaperExchange

    reply = bot.send(three_commas(bot))
    assert rig.run() == (1, 1)
    record = _record(tenant_a.tenant_id, bot.bot_id, reply.json["signal_id"])
    amount = Decimal(json.loads(record.outcome_json)["amount"])
    price = PaperExchange(tenant_a.tenant_id).fetch_ticker("BTC/USDT").last
    assert amount == (Decimal(100) / price).quantize(Decimal("0.00001"), rounding="ROUND_DOWN")  # order_notional 100
    assert bot_position(tenant_a.tenant_id, bot) == amount


def tradingview(bot: SignalBot, action: str, position: str, size: str, **extra: Any) -> dict[str, Any]:
    """What an alert message built from TradingView placeholders sends."""
    return {
        "secret": bot.secret,
        "ticker": "BTCUSDT",
        "action": action,
        "contracts": "0.001",
        "market_position": position,
        "market_position_size": size,
        "time": _now_iso(),
        "close": "65000",
        **extra,
    }


def test_a_dropped_alert_heals_on_the_next_one(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    # The alert taking the strategy to long 0.001 was lost; the next says long 0.003 (a pyramid add).
    assert bot.send(tradingview(bot, "buy", "long", "0.003")).status == 202
    assert rig.run() == (1, 1)
    assert bot_position(tenant_a.tenant_id, bot) == Decimal("0.003")
    # The exit to flat sells everything, whatever was missed before.
    assert bot.send(tradingview(bot, "sell", "flat", "0", time=_now_iso(1))).status == 202
    assert rig.run() == (1, 1)
    assert bot_position(tenant_a.tenant_id, bot) == 0


def test_a_duplicated_alert_is_not_doubled(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    # TradingView fired the same order twice (different times, so not deduplicated).
    assert bot.send(tradingview(bot, "buy", "long", "0.002")).status == 202
    assert bot.send(tradingview(bot, "buy", "long", "0.002", time=_now_iso(1))).status == 202
    signals_handled, trades = rig.run()
    assert (signals_handled, trades) == (2, 1)
    assert bot_position(tenant_a.tenant_id, bot) == Decimal("0.002")
    reasons = [json.loads(r.outcome_json)["reason"] for r in _records(tenant_a.tenant_id, bot.bot_id)]
    assert reasons == ["at_target", None]  # newest first


def test_a_signal_before_the_previous_order_filled_is_not_doubled(
    bot: SignalBot, tenant_a: Caller, rig: SignalRig
) -> None:
    assert bot.send(tradingview(bot, "buy", "long", "0.002")).status == 202
    assert rig.drain_signals() == 1  # the order is written but not yet filled
    assert bot.send(tradingview(bot, "buy", "long", "0.002", time=_now_iso(1))).status == 202
    assert rig.run() == (1, 1)
    assert bot_position(tenant_a.tenant_id, bot) == Decimal("0.002")


def test_a_redelivered_or_replayed_signal_places_one_order(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    from shared.orders.models import OrderRecord
    from shared.signals.execution import execute_signal
    from shared.signals.tasks import SignalTask

    reply = bot.send(three_commas(bot))
    assert rig.drain_signals() == 1
    task = SignalTask(tenant_id=tenant_a.tenant_id, bot_id=bot.bot_id, signal_id=reply.json["signal_id"])
    assert execute_signal(task) == "already_handled"
    # As if the worker died after writing the intent but before recording the outcome.
    record = _record(tenant_a.tenant_id, bot.bot_id, task.signal_id)
    first_order = record.order_id
    record.status, record.order_id = "accepted", None
    record.save()
    assert execute_signal(task) == "executed"
    assert _record(tenant_a.tenant_id, bot.bot_id, task.signal_id).order_id == first_order
    orders = [o for o in OrderRecord.query(tenant_a.tenant_id) if o.bot_id == bot.bot_id]
    assert len(orders) == 1


def test_a_bot_stopped_after_accepting_does_not_trade(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    reply = bot.send(three_commas(bot))
    assert bot.bots.post(f"/bots/{bot.bot_id}/stop").status == 200
    assert rig.run() == (1, 0)
    record = _record(tenant_a.tenant_id, bot.bot_id, reply.json["signal_id"])
    assert (record.status, record.reason) == ("failed", "bot_not_running")


def test_an_amount_below_the_market_minimum_places_nothing(bot: SignalBot, tenant_a: Caller, rig: SignalRig) -> None:
    reply = bot.send(three_commas(bot, order={"amount": "1", "currency_type": "quote"}))  # min cost is 5 USDT
    assert rig.run() == (1, 0)
    record = _record(tenant_a.tenant_id, bot.bot_id, reply.json["signal_id"])
    assert (record.status, record.reason) == ("failed", "below_market_minimum")


# ------------------------------------------------------------------ secrets stay secret


def test_the_secret_never_leaves_except_at_create_and_rotate(
    bots_handler: Any, signals_handler: Any, auth_handler: Any, rig: SignalRig, bus_tap: BusTap
) -> None:
    from shared.config import get_settings
    from tests.support.secrets_scan import RecordingApi, find_secrets, keep_log_records, scan_table

    tenant, _ = new_tenant(auth_handler)
    bots = RecordingApi(bots_handler, tenant)
    signals = RecordingApi(signals_handler)
    with keep_log_records() as logs:
        bot = create_signal_bot(bots, signals)
        first_secret = bot.secret
        rotated = bots.post(f"/bots/{bot.bot_id}/signal-secret")
        bot.secret = rotated.json["signal_secret"]
        bot.send(text=f"SECRET={bot.secret}\nSIGNAL=BUY\nVOLUME=0.001")
        bot.send(three_commas(bot, "exit_long"))
        bot.send(three_commas(bot, "moon"))  # refused
        bot.send(three_commas(bot, timestamp=_now_iso(-4000)))  # refused
        bot.send(three_commas(bot, secret=first_secret))  # the old secret: 401
        bot.send(text="SECRET=" + bot.secret + "\n{{ticker}}=1")  # malformed
        rig.run()
    secrets = {"current": bot.secret, "first": first_secret}
    revealing = {"response to POST /bots", f"response to POST /bots/{bot.bot_id}/signal-secret"}
    replies = [(label, text) for label, text in bots.haystacks() if label not in revealing]
    events = [("event", json.dumps(e)) for e in bus_tap.of_tenant(tenant.tenant_id, expect=8)]
    settings = get_settings()
    tables = (
        settings.signals_table,
        settings.signal_secrets_table,
        settings.events_table,
        settings.orders_table,
        settings.idempotency_table,
        settings.bots_table,
    )
    stored = [(f"table {name}", json.dumps(scan_table(name))) for name in tables]
    found = find_secrets([*replies, *signals.haystacks(), *[("log", t) for t in logs.texts], *events, *stored], secrets)
    assert found == [], "\n".join(map(str, found))
    assert len(signals.replies) == 6


@pytest.fixture(scope="session")
def orders_handler() -> Any:
    from functions.orders_api.app import lambda_handler

    return lambda_handler


def test_the_sample_event_is_what_api_gateway_sends(bot: SignalBot, signals_handler: Any, rig: SignalRig) -> None:
    from tests.support.api import invoke, load_event

    event = load_event("signals_api_tradingview_text.json")
    assert "authorizer" not in event["requestContext"]
    sample_id = event["pathParameters"]["bot_id"]
    assert invoke(signals_handler, event).status == 401  # the sample's secret opens nothing
    event["path"] = event["path"].replace(sample_id, bot.bot_id)
    event["body"] = (
        event["body"]
        .replace("sigsec_replace-with-the-bots-secret", bot.secret)
        .replace("2026-01-01T00:00:00Z", _now_iso())
    )
    assert invoke(signals_handler, event).status == 202
    assert rig.run() == (1, 1)
