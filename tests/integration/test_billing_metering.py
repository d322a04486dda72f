"""Usage metering: counted once per source however often a task is retried, and reported to the
local Stripe as meter events whose totals equal what was counted, however often the reporter runs."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from localcloud.local_stripe import LocalStripe, meter_events
from shared.billing import metering
from shared.billing.metering import record_usage, report_closed_windows
from shared.billing.models import claim_customer, usage_in_window, window_of
from shared.clock import utc_now
from shared.ids import new_id

TWO_HOURS_AGO = utc_now() - timedelta(hours=2)


def _customer(tenant_id: str) -> str:
    from shared.billing.stripe_client import stripe_client

    customer = stripe_client().v1.customers.create({"metadata": {"tenant_id": tenant_id}})
    return claim_customer(tenant_id, customer.id, utc_now())


def _billed(stripe_url: str, customer_id: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for event in meter_events(stripe_url):
        if event["payload"]["stripe_customer_id"] == customer_id:
            totals[event["event_name"]] += int(event["payload"]["value"])
    return totals


def test_a_retried_source_is_counted_once() -> None:
    tenant = new_id("ten")
    assert record_usage(tenant, "signals_received", "sig_1", 1, TWO_HOURS_AGO) is True
    assert record_usage(tenant, "signals_received", "sig_1", 1, TWO_HOURS_AGO) is False
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(lambda _: record_usage(tenant, "orders_placed", "ord_1", 1, TWO_HOURS_AGO), range(6)))
    assert outcomes.count(True) == 1
    record_usage(tenant, "signals_received", "sig_2", 1, TWO_HOURS_AGO)
    assert usage_in_window(tenant, "signals_received", TWO_HOURS_AGO) == 2
    assert usage_in_window(tenant, "orders_placed", TWO_HOURS_AGO) == 1
    assert usage_in_window(tenant, "backtest_minutes", TWO_HOURS_AGO) == 0


def test_reported_totals_equal_counted_usage_and_a_rerun_bills_nothing_more(local_stripe: LocalStripe) -> None:
    tenant = new_id("ten")
    customer = _customer(tenant)
    for n in range(3):
        record_usage(tenant, "signals_received", f"sig_{n}", 1, TWO_HOURS_AGO)
        record_usage(tenant, "signals_received", f"sig_{n}", 1, TWO_HOURS_AGO)  # a retry
    record_usage(tenant, "backtest_minutes", "bt_1", 7, TWO_HOURS_AGO)
    record_usage(tenant, "backtest_minutes", "bt_2", 5, TWO_HOURS_AGO - timedelta(hours=1))
    record_usage(tenant, "orders_placed", "ord_now", 1, utc_now())  # the open window: not yet

    report_closed_windows(utc_now())
    counted = {"signals_received": 3, "backtest_minutes": 12}
    assert _billed(local_stripe.url, customer) == counted
    report_closed_windows(utc_now())
    assert _billed(local_stripe.url, customer) == counted
    assert usage_in_window(tenant, "orders_placed", utc_now()) == 1

    report_closed_windows(utc_now() + timedelta(hours=1, minutes=6))  # the window closed and settled
    assert _billed(local_stripe.url, customer) == {**counted, "orders_placed": 1}


def test_a_reporter_dying_after_sending_does_not_bill_twice(
    local_stripe: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_id("ten")
    customer = _customer(tenant)
    record_usage(tenant, "orders_placed", "ord_a", 1, TWO_HOURS_AGO)
    record_usage(tenant, "orders_placed", "ord_b", 1, TWO_HOURS_AGO)

    def crash(row: Any, now: Any) -> None:
        raise RuntimeError("the reporter died before marking the window")

    with monkeypatch.context() as patch:
        patch.setattr(metering, "mark_reported", crash)
        with pytest.raises(RuntimeError):
            report_closed_windows(utc_now())
    report_closed_windows(utc_now())  # the next run sends the same identifier again
    assert _billed(local_stripe.url, customer) == {"orders_placed": 2}
    identifiers = [e["identifier"] for e in meter_events(local_stripe.url) if tenant in e["identifier"]]
    assert identifiers == [f"{tenant}:orders_placed:{window_of(TWO_HOURS_AGO):%Y%m%dT%H}"]


def test_tenants_without_a_stripe_customer_are_not_billed(local_stripe: LocalStripe) -> None:
    from functions.billing_usage_reporter.app import lambda_handler
    from localcloud.functions import FakeLambdaContext

    tenant = new_id("ten")
    record_usage(tenant, "signals_received", "sig_x", 1, TWO_HOURS_AGO)
    context: Any = FakeLambdaContext("billing_usage_reporter", 512, 120)
    summary = lambda_handler({}, context)
    assert summary["skipped"] >= 1
    assert not [e for e in meter_events(local_stripe.url) if tenant in e["identifier"]]
    assert report_closed_windows(utc_now()).skipped == 0  # marked: not looked at again


def test_the_signal_worker_meters_each_signal_once_however_often_delivered(
    bots_a: Any, tenant_a: Any, test_cloud: Any
) -> None:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from functions.signal_worker.app import handle_record
    from functions.signals_api.app import lambda_handler as signals_handler
    from shared.clock import isoformat
    from shared.signals.tasks import SignalTask
    from tests.support.api import LambdaApi
    from tests.support.signals import SignalRig, create_signal_bot

    rig = SignalRig(test_cloud)
    rig.run()  # whatever earlier tests left behind
    bot = create_signal_bot(bots_a, LambdaApi(signals_handler))
    alert = {"secret": bot.secret, "action": "enter_long", "timestamp": isoformat(utc_now()), "max_lag": "300"}
    reply = bot.send(alert)
    assert reply.status == 202, reply.text
    assert rig.drain_signals() == 1
    task = SignalTask(tenant_id=tenant_a.tenant_id, bot_id=bot.bot_id, signal_id=reply.json["signal_id"])
    handle_record(SQSRecord({"body": task.model_dump_json(), "messageId": "redelivery", "attributes": {}}))
    assert usage_in_window(tenant_a.tenant_id, "signals_received", utc_now()) == 1


def test_the_backtest_worker_meters_compute_minutes_once(tenant_a: Any, test_cloud: Any) -> None:
    from functions.backtests_api.app import lambda_handler as backtests_handler
    from tests.support.api import LambdaApi
    from tests.support.backtests import BacktestRig, backtest_body, key

    rig = BacktestRig(test_cloud)
    rig.discard()
    reply = LambdaApi(backtests_handler, tenant_a).post("/backtests", body=backtest_body(), headers=key())
    assert reply.status == 202, reply.text
    assert rig.drain() == 1
    assert usage_in_window(tenant_a.tenant_id, "backtest_minutes", utc_now()) == 1  # under a minute: 1


def test_each_order_the_exchange_accepts_is_metered_once(tenant_a: Any, test_cloud: Any) -> None:
    from functions.orders_api.app import lambda_handler as orders_handler
    from shared.orders.execution import execute
    from shared.orders.tasks import TradeTask
    from tests.support.api import LambdaApi, idempotency_header
    from tests.support.trading import TradingRig

    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    orders = LambdaApi(orders_handler, tenant_a)
    body = {"symbol": "SOL/USDT", "side": "buy", "type": "market", "amount": "1"}
    placed = orders.post("/orders", body=body, headers=idempotency_header())
    assert placed.status == 202, placed.text
    rig.drain()
    assert usage_in_window(tenant_a.tenant_id, "orders_placed", utc_now()) == 1
    # The same task delivered again places nothing and meters nothing.
    task = TradeTask(kind="submit", tenant_id=tenant_a.tenant_id, order_id=placed.json["id"], account_id="paper")
    execute(task)
    assert usage_in_window(tenant_a.tenant_id, "orders_placed", utc_now()) == 1
    # An order the exchange refuses is not one placed.
    refused = orders.post("/orders", body={**body, "amount": "1000000"}, headers=idempotency_header())
    rig.drain()
    assert orders.get(f"/orders/{refused.json['id']}").json["status"] == "REJECTED"
    assert usage_in_window(tenant_a.tenant_id, "orders_placed", utc_now()) == 1
