"""Plan limits where they bite (issue 13): each refuses with 402 `plan_limit` naming the limit and
the plan that lifts it, and writes nothing; the bot counter is atomic and never drifts; a
downgrade stops the excess running bots, newest first, with `bot.stopped` events that say why."""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi, Reply, idempotency_header
from tests.support.backtests import backtest_body
from tests.support.payloads import bot
from tests.support.tenants import new_tenant, set_plan


@pytest.fixture
def free(auth_handler: Any) -> Caller:
    return new_tenant(auth_handler, plan="free")[0]


@pytest.fixture
def pro(auth_handler: Any) -> Caller:
    return new_tenant(auth_handler, plan="pro")[0]


def _bots(bots_handler: Any, caller: Caller) -> LambdaApi:
    return LambdaApi(bots_handler, caller)


def _create(api: LambdaApi, **changes: Any) -> Reply:
    """A signal bot unless told otherwise: running, it is never ticked, so it reads no market data
    that other suites steer (the live/backtest parity tests own their markets)."""
    body = bot(**{"strategy": {"type": "signal", "params": {}}, **changes})
    return api.post("/bots", body=body, headers=idempotency_header())


def _created(api: LambdaApi, **changes: Any) -> str:
    reply = _create(api, **changes)
    assert reply.status == 201, reply.text
    bot_id: str = reply.json["id"]
    return bot_id


def _bot_rows(tenant_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = boto3.client("dynamodb").query(
        TableName=os.environ["BOTS_TABLE"],
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant_id}},
        ConsistentRead=True,
    )["Items"]
    return rows


def _counts(tenant_id: str) -> tuple[int, int]:
    from shared.billing.entitlements import bot_counts

    return bot_counts(tenant_id)


def _actual(tenant_id: str) -> tuple[int, int]:
    rows = _bot_rows(tenant_id)
    return len(rows), sum(row["status"]["S"] == "running" for row in rows)


def _assert_plan_limit(reply: Reply, limit: str, plan: str, upgrade_to: str | None) -> dict[str, Any]:
    assert (reply.status, reply.error_code) == (402, "plan_limit"), reply.text
    details: dict[str, Any] = reply.json["error"]["details"]
    assert (details["limit"], details["plan"], details["upgrade_to"]) == (limit, plan, upgrade_to)
    return details


# ---------------------------------------------------------------- bots


def test_a_bot_beyond_the_plans_count_is_402_and_writes_nothing(bots_handler: Any, free: Caller) -> None:
    api = _bots(bots_handler, free)
    for i in range(3):
        _created(api, name=f"bot {i}")
    refused = _create(api, name="one too many")
    details = _assert_plan_limit(refused, "bots", "free", "pro")
    assert details["allowed"] == 3
    assert "free plan allows 3 bots" in refused.json["error"]["message"]
    assert _actual(free.tenant_id) == (3, 0)
    assert _counts(free.tenant_id) == (3, 0)


def test_two_concurrent_creates_at_the_limit_exactly_one_wins(bots_handler: Any, free: Caller) -> None:
    api = _bots(bots_handler, free)
    _created(api, name="first")
    _created(api, name="second")
    barrier = threading.Barrier(2)
    replies: list[Reply] = []

    def create(name: str) -> None:
        barrier.wait()
        replies.append(_create(api, name=name))

    threads = [threading.Thread(target=create, args=(f"racer {i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reply.status for reply in replies) == [201, 402], [r.text for r in replies]
    assert _actual(free.tenant_id) == (3, 0)
    assert _counts(free.tenant_id) == (3, 0)


def test_the_counter_never_drifts_through_creates_deletes_and_failures(bots_handler: Any, free: Caller) -> None:
    api = _bots(bots_handler, free)
    for cycle in range(3):
        ids = [_created(api, name=f"cycle {cycle} bot {i}") for i in range(3)]
        assert _create(api).status == 402
        # A failed create of another kind (an account it does not own) counts nothing either.
        assert _create(api, exchange_account_id="acct_" + "0" * 26).status == 404
        assert api.post(f"/bots/{ids[0]}/start").status == 200
        assert api.delete(f"/bots/{ids[0]}").status == 409  # running bots are not deleted
        assert _counts(free.tenant_id) == _actual(free.tenant_id) == (3, 1)
        assert api.post(f"/bots/{ids[0]}/pause").status == 200
        assert _counts(free.tenant_id) == _actual(free.tenant_id) == (3, 0)
        assert api.post(f"/bots/{ids[0]}/stop").status == 200
        for bot_id in ids:
            assert api.delete(f"/bots/{bot_id}").status == 204
        assert _counts(free.tenant_id) == _actual(free.tenant_id) == (0, 0)


def test_an_existing_tenant_without_a_counter_is_counted_on_its_first_bot_change(
    bots_handler: Any, free: Caller
) -> None:
    from shared.billing.models import BOTS, PlanCounterRecord

    api = _bots(bots_handler, free)
    first, second = _created(api, name="a"), _created(api, name="b")
    assert api.post(f"/bots/{first}/start").status == 200
    PlanCounterRecord(free.tenant_id, BOTS).delete()  # as before entitlements existed
    assert api.post(f"/bots/{second}/start").status == 200  # initialized from the Bots table, then counted
    assert _counts(free.tenant_id) == _actual(free.tenant_id) == (2, 2)
    _created(api, name="c")
    assert _create(api, name="d").status == 402


def test_a_downgraded_tenant_keeps_its_bots_but_starts_only_the_plans_count(
    bots_handler: Any, auth_handler: Any
) -> None:
    caller = new_tenant(auth_handler, plan="pro")[0]
    api = _bots(bots_handler, caller)
    ids = [_created(api, name=f"bot {i}") for i in range(5)]
    set_plan(caller.tenant_id, "free")
    for bot_id in ids[:3]:
        assert api.post(f"/bots/{bot_id}/start").status == 200
    refused = api.post(f"/bots/{ids[3]}/start")
    details = _assert_plan_limit(refused, "bots", "free", "pro")
    assert details["counts"] == "running bots"
    assert api.get(f"/bots/{ids[3]}").json["status"] == "stopped"
    assert _create(api).status == 402  # five bots already, on a plan of three
    assert _counts(caller.tenant_id) == _actual(caller.tenant_id) == (5, 3)
    # Stopping one makes room for another.
    assert api.post(f"/bots/{ids[0]}/stop").status == 200
    assert api.post(f"/bots/{ids[3]}/start").status == 200


# ---------------------------------------------------------------- live exchange accounts


def _live_account(tenant_id: str) -> str:
    """A registered (non-paper) account, written directly: the registration route's own checks
    are tested in test_exchange_accounts."""
    from shared.clock import utc_now
    from shared.exchange_accounts.models import ExchangeAccountRecord

    record = ExchangeAccountRecord(
        tenant_id=tenant_id,
        account_id="acct_" + "1" * 26,
        exchange="binance",
        label="live",
        key_last4="****",
        credentials="not-used-here",
        created_at=utc_now(),
    )
    record.save()
    return record.account_id


def test_free_cannot_add_a_live_exchange_account(free: Caller) -> None:
    from functions.exchange_accounts_api.app import lambda_handler

    api = LambdaApi(lambda_handler, free)
    reply = api.post(
        "/exchange-accounts",
        body={"exchange": "binance", "label": "main", "api_key": "k" * 16, "secret": "s" * 32},
    )
    details = _assert_plan_limit(reply, "live_exchange_accounts", "free", "pro")
    assert details["allowed"] is False
    assert [a["id"] for a in api.get("/exchange-accounts").json["items"]] == ["paper"]


def test_free_cannot_start_a_bot_on_a_live_account(bots_handler: Any, auth_handler: Any) -> None:
    caller = new_tenant(auth_handler, plan="pro")[0]
    api = _bots(bots_handler, caller)
    live_bot = _created(api, exchange_account_id=_live_account(caller.tenant_id))
    paper_bot = _created(api)
    set_plan(caller.tenant_id, "free")
    _assert_plan_limit(api.post(f"/bots/{live_bot}/start"), "live_exchange_accounts", "free", "pro")
    assert api.get(f"/bots/{live_bot}").json["status"] == "stopped"
    assert api.post(f"/bots/{paper_bot}/start").status == 200
    assert _counts(caller.tenant_id) == (2, 1)


# ---------------------------------------------------------------- downgrades


def test_a_downgrade_stops_the_excess_running_bots_newest_first_with_events(
    bots_handler: Any, auth_handler: Any, bus_tap: BusTap
) -> None:
    from shared.billing.entitlements import enforce_plan_limits

    caller = new_tenant(auth_handler, plan="team")[0]
    api = _bots(bots_handler, caller)
    live = _created(api, name="live", exchange_account_id=_live_account(caller.tenant_id))
    paper = [_created(api, name=f"paper {i}") for i in range(5)]  # created after `live`: newer
    resting = _created(api, name="stays stopped")
    for bot_id in [live, *paper]:
        assert api.post(f"/bots/{bot_id}/start").status == 200
    bus_tap.of_tenant(caller.tenant_id, expect=13)  # created x7, started x6

    set_plan(caller.tenant_id, "free")
    stopped = enforce_plan_limits(caller.tenant_id, "plan_downgraded")

    # Free has no live accounts and runs three bots: the two newest paper bots and the live one.
    assert stopped == [paper[4], paper[3], live]
    statuses = {b["id"]: b["status"] for b in api.get("/bots?limit=50").json["items"]}
    assert statuses == {live: "stopped", **{b: "running" for b in paper[:3]}} | {
        paper[3]: "stopped",
        paper[4]: "stopped",
        resting: "stopped",
    }
    assert _counts(caller.tenant_id) == _actual(caller.tenant_id) == (7, 3)  # every bot kept
    events = [e for e in bus_tap.of_tenant(caller.tenant_id, expect=16) if e["type"] == "bot.stopped"]
    assert [e["data"]["bot_id"] for e in events] == stopped
    assert {e["data"]["reason"] for e in events} == {"plan_downgraded"}
    assert enforce_plan_limits(caller.tenant_id, "plan_downgraded") == []  # nothing left to stop


def test_enforcement_leaves_a_tenant_within_its_plan_alone(bots_handler: Any, free: Caller) -> None:
    from shared.billing.entitlements import enforce_plan_limits

    api = _bots(bots_handler, free)
    ids = [_created(api, name=f"bot {i}") for i in range(3)]
    for bot_id in ids:
        assert api.post(f"/bots/{bot_id}/start").status == 200
    assert enforce_plan_limits(free.tenant_id, "payment_failed") == []
    assert _actual(free.tenant_id) == (3, 3)


# ---------------------------------------------------------------- backtests


@pytest.fixture
def backtests(free: Caller) -> Iterator[LambdaApi]:
    from functions.backtests_api.app import lambda_handler

    yield LambdaApi(lambda_handler, free)


def _backtest_rows(tenant_id: str) -> int:
    from shared.backtest.records import BacktestRecord

    return len(list(BacktestRecord.query(tenant_id, consistent_read=True)))


def _sweep(combinations: int) -> dict[str, Any]:
    body = backtest_body()
    body["strategy"] = {"type": "sma_cross", "params": {"slow": 200}}
    body["grid"] = {"fast": list(range(2, 2 + combinations))}
    return body


def test_backtests_count_per_month_and_sweeps_count_their_combinations(backtests: LambdaApi, free: Caller) -> None:
    from shared.billing.entitlements import backtests_used

    sweep = backtests.post("/backtests/sweeps", body=_sweep(9), headers=idempotency_header())
    assert sweep.status == 202, sweep.text
    key = idempotency_header()
    assert backtests.post("/backtests", body=backtest_body(), headers=key).status == 202
    assert backtests.post("/backtests", body=backtest_body(), headers=key).status == 202  # a replay counts nothing
    assert backtests_used(free.tenant_id) == 10
    refused = backtests.post("/backtests", body=backtest_body(), headers=idempotency_header())
    details = _assert_plan_limit(refused, "backtests_per_month", "free", "pro")
    assert details["allowed"] == 10
    assert backtests.post("/backtests/sweeps", body=_sweep(2), headers=idempotency_header()).status == 402
    assert (backtests_used(free.tenant_id), _backtest_rows(free.tenant_id)) == (10, 11)  # 9 + 1 + the sweep row


def test_a_sweep_larger_than_the_plan_allows_is_402(backtests: LambdaApi, free: Caller) -> None:
    from shared.billing.entitlements import backtests_used

    details = _assert_plan_limit(
        backtests.post("/backtests/sweeps", body=_sweep(11), headers=idempotency_header()),
        "sweep_combinations",
        "free",
        "pro",
    )
    assert details["allowed"] == 10
    assert (backtests_used(free.tenant_id), _backtest_rows(free.tenant_id)) == (0, 0)


def test_a_pro_sweep_above_100_names_team(pro: Caller) -> None:
    from functions.backtests_api.app import lambda_handler

    api = LambdaApi(lambda_handler, pro)
    refused = api.post("/backtests/sweeps", body=_sweep(101), headers=idempotency_header())
    _assert_plan_limit(refused, "sweep_combinations", "pro", "team")


# ---------------------------------------------------------------- webhook subscriptions


def test_webhook_subscriptions_beyond_the_plan_are_402_before_the_global_cap(
    free: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.webhooks_api.app import lambda_handler
    from shared.webhooks import service

    monkeypatch.setattr(service, "RESOLVER", lambda host, port: [ipaddress.ip_address("93.184.216.34")])
    api = LambdaApi(lambda_handler, free)
    body = {"url": "https://hooks.example.com/in", "event_types": ["order.*"]}
    assert api.post("/webhooks", body=body).status == 201
    details = _assert_plan_limit(api.post("/webhooks", body=body), "webhook_subscriptions", "free", "pro")
    assert details["allowed"] == 1
    assert len(api.get("/webhooks").json["items"]) == 1


# ---------------------------------------------------------------- failures in between


def test_a_transaction_conflict_on_the_counter_is_retried(
    bots_handler: Any, free: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    from shared.bots import service
    from shared.events.transactions import commit_with_events as real

    calls: list[int] = []

    def conflict_once(stage: Any, events: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # DynamoDB cancels a transaction that meets another on the counter row
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                "TransactWriteItems",
                cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
            )
            raise TransactWriteError("cancelled", cause=cause)
        real(stage, events)

    monkeypatch.setattr(service, "commit_with_events", conflict_once)
    api = _bots(bots_handler, free)
    _created(api)
    assert len(calls) >= 2
    assert _counts(free.tenant_id) == _actual(free.tenant_id) == (1, 0)


def test_a_backtest_that_could_not_be_queued_is_given_back(
    backtests: LambdaApi, free: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.backtest import jobs
    from shared.billing.entitlements import backtests_used

    def refuse(batch: Any) -> list[Any]:
        return list(batch)  # every job unsent

    monkeypatch.setattr(jobs, "enqueue", refuse)
    single = backtests.post("/backtests", body=backtest_body(), headers=idempotency_header())
    assert single.status >= 500, single.text
    sweep = backtests.post("/backtests/sweeps", body=_sweep(3), headers=idempotency_header())
    assert sweep.status >= 500, sweep.text
    assert backtests_used(free.tenant_id) == 0


def test_enforcement_skips_a_bot_stopped_meanwhile(
    bots_handler: Any, auth_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.billing.entitlements import enforce_plan_limits
    from shared.bots import service

    caller = new_tenant(auth_handler, plan="pro")[0]
    api = _bots(bots_handler, caller)
    ids = [_created(api, name=f"bot {i}") for i in range(4)]
    for bot_id in ids:
        assert api.post(f"/bots/{bot_id}/start").status == 200
    listed = service.running_bots(caller.tenant_id)  # read before the user's stop below
    assert api.post(f"/bots/{ids[3]}/stop").status == 200
    monkeypatch.setattr(service, "running_bots", lambda tenant_id: listed)
    set_plan(caller.tenant_id, "free")
    # The newest (already stopped by its user) is skipped; the plan's three are then running.
    assert enforce_plan_limits(caller.tenant_id, "payment_failed") == []
    assert _counts(caller.tenant_id) == _actual(caller.tenant_id) == (4, 3)
