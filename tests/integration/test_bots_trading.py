"""Bots trade by themselves: the tick scheduler, the strategy worker, the bot's activity and
performance, on the template's tables and queues (moto) with the paper exchange.

Time is driven by hand: the scheduler runs "now" with candles the test makes, so a strategy's
decision is known in advance; fills happen on the paper exchange at a price the test steers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

import pytest

from tests.support.api import Caller, LambdaApi, idempotency_header
from tests.support.aws import TestCloud
from tests.support.bots import CandleFeed, drain_ticks, run_worker, tick_of
from tests.support.trading import TradingRig

PRICE = 100.0  # SOL/USDT, steered


class FixedPrices:
    def __init__(self, price: str) -> None:
        self.value = Decimal(price)

    def price(self, symbol: str, timestamp_ms: int) -> Decimal:
        return self.value


@pytest.fixture
def steered(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedPrices]:
    from shared.exchange import connect, paper

    source = FixedPrices(str(PRICE))
    monkeypatch.setattr(paper, "default_price_source", lambda: source)
    connect._instances.clear()
    yield source
    connect._instances.clear()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _rising(step: float = 0.5) -> Any:
    """Closes rising bar after bar, ending at PRICE at the last closed bar: fast SMA above slow."""
    anchor = _now_ms() // 3_600_000 * 3_600_000 - 3_600_000  # open time of the last closed bar

    def closes(open_ms: int) -> float:
        return PRICE + step * (open_ms - anchor) / 3_600_000

    return closes


def _bot(strategy: dict[str, Any], *, symbol: str = "SOL/USDT", risk: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "auto",
        "symbol": symbol,
        "exchange_account_id": "paper",
        "strategy": strategy,
        "risk": risk or {"max_position_notional": 1000, "max_daily_loss": 100, "max_open_orders": 4},
    }


SMA_1H = {
    "type": "sma_cross",
    "params": {"fast": 2, "slow": 5, "timeframe": "1h", "sizing": {"mode": "fixed_notional", "notional": "200"}},
}


def _start(bots: LambdaApi, body: dict[str, Any]) -> str:
    created = bots.post("/bots", body=body, headers=idempotency_header())
    assert created.status == 201, created.text
    bot_id: str = created.json["id"]
    assert bots.post(f"/bots/{bot_id}/start").status == 200
    return bot_id


def _schedule(feed: CandleFeed, now_ms: int | None = None) -> Any:
    from shared.bots.schedule import run_scheduler

    return run_scheduler(now_ms or _now_ms(), fetch=feed)


def _orders(tenant_id: str, bot_id: str) -> list[Any]:
    from shared.orders.models import OrderRecord

    return [o for o in OrderRecord.query(tenant_id) if o.bot_id == bot_id]


def test_an_indicator_bot_buys_by_itself_and_shows_why(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, steered: FixedPrices
) -> None:
    bot_id = _start(bots_a, _bot(SMA_1H))
    feed = CandleFeed({"paper|SOL/USDT|1h": _rising()})
    _schedule(feed)
    ticks = drain_ticks(tenant_a.tenant_id)
    assert [tick_of(m).bot_id for m in ticks] == [bot_id]
    assert run_worker(ticks) == {"batchItemFailures": []}
    TradingRig(test_cloud, tenant_a.tenant_id).drain()

    orders = _orders(tenant_a.tenant_id, bot_id)
    assert [(o.side, o.type, o.status, o.amount) for o in orders] == [("buy", "market", "FILLED", "2")]  # 200 / 100
    activity = bots_a.get(f"/bots/{bot_id}/activity").json["items"]
    decision = activity[0]
    assert decision["kind"] == "decision" and decision["summary"].startswith("buy 2")
    assert decision["data"]["wanted_position"] == 1.0
    assert decision["data"]["indicators"]["fast_sma"] > decision["data"]["indicators"]["slow_sma"]
    assert decision["data"]["orders"][0]["order_id"] == orders[0].order_id
    close_ms = tick_of(ticks[0]).close_ms
    assert decision["bar_time"] == datetime.fromtimestamp((close_ms - 3_600_000) / 1000, UTC).isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")

    performance = bots_a.get(f"/bots/{bot_id}/performance").json
    assert performance["position"] == "2" and performance["trades"] == 0 and performance["filled_orders"] == 1
    assert Decimal(performance["fees"]) > 0


def test_a_redelivered_tick_and_a_lost_state_never_place_a_second_order(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, steered: FixedPrices
) -> None:
    from shared.bots.state import BotStateRecord
    from shared.bots.tick import run_tick

    bot_id = _start(bots_a, _bot(SMA_1H))
    _schedule(CandleFeed({"paper|SOL/USDT|1h": _rising()}))
    tick = tick_of(drain_ticks(tenant_a.tenant_id)[0])
    assert run_tick(tick).startswith("buy")
    assert run_tick(tick) == "skipped: this bar was already evaluated"  # redelivery
    BotStateRecord.get(tenant_a.tenant_id, bot_id).delete()  # a worker died before saving its state
    assert run_tick(tick).startswith("waiting")  # the first order is still queued: wait, never add
    TradingRig(test_cloud, tenant_a.tenant_id).drain()
    BotStateRecord.get(tenant_a.tenant_id, bot_id).delete()
    assert run_tick(tick) == "position already on target"  # filled: the position is there
    assert len(_orders(tenant_a.tenant_id, bot_id)) == 1


def test_a_bot_stopped_between_scan_and_tick_does_not_trade(
    bots_a: LambdaApi, tenant_a: Caller, steered: FixedPrices
) -> None:
    bot_id = _start(bots_a, _bot(SMA_1H))
    _schedule(CandleFeed({"paper|SOL/USDT|1h": _rising()}))
    assert bots_a.post(f"/bots/{bot_id}/stop").status == 200
    ticks = drain_ticks(tenant_a.tenant_id)
    assert len(ticks) == 1
    assert run_worker(ticks) == {"batchItemFailures": []}
    assert _orders(tenant_a.tenant_id, bot_id) == []
    assert bots_a.get(f"/bots/{bot_id}/activity").json["items"] == []


def test_stop_and_pause_take_a_bot_off_the_schedule_and_start_puts_it_back(bots_a: LambdaApi, tenant_a: Caller) -> None:
    from shared.bots.models import due_bots, get_bot

    bot_id = _start(bots_a, _bot(SMA_1H))
    record = get_bot(tenant_a.tenant_id, bot_id)
    assert record is not None and record.market_key == "paper|SOL/USDT|1h" and record.next_run_at is not None
    assert bot_id in {b.bot_id for b in due_bots(_now_ms())}
    assert bots_a.post(f"/bots/{bot_id}/pause").status == 200
    assert bot_id not in {b.bot_id for b in due_bots(_now_ms() + 10 * 86_400_000)}
    assert bots_a.post(f"/bots/{bot_id}/start").status == 200
    assert bot_id in {b.bot_id for b in due_bots(_now_ms())}


def test_bots_running_before_the_scheduler_existed_are_scheduled_by_the_migration(
    bots_a: LambdaApi, tenant_a: Caller
) -> None:
    """A row written before the due index existed (running, but no due attributes) is put on it by
    the one-off migration, once; a signal bot is not."""
    from shared.bots.models import due_bots, get_bot
    from shared.bots.service import schedule_unscheduled_running_bots

    bot_id = _start(bots_a, _bot(SMA_1H))
    record = get_bot(tenant_a.tenant_id, bot_id)
    assert record is not None
    record.unschedule()  # as the row was before this release
    record.save()
    assert bot_id not in {b.bot_id for b in due_bots(_now_ms())}
    assert schedule_unscheduled_running_bots() >= 1
    assert bot_id in {b.bot_id for b in due_bots(_now_ms())}
    again = get_bot(tenant_a.tenant_id, bot_id)
    assert again is not None and again.next_run_at is not None
    version = again.version
    schedule_unscheduled_running_bots()  # already scheduled: left alone
    final = get_bot(tenant_a.tenant_id, bot_id)
    assert final is not None and final.version == version


def test_a_missing_candle_is_fetched_again_never_invented_and_the_gap_is_reported(
    bots_a: LambdaApi, tenant_a: Caller
) -> None:
    from shared.bots.tick import run_tick

    bot_id = _start(bots_a, _bot(SMA_1H, symbol="ETH/USDT"))
    now = _now_ms()
    last_open = now // 3_600_000 * 3_600_000 - 3_600_000
    late = CandleFeed({"paper|ETH/USDT|1h": _rising()}, missing_after_ms=last_open)  # the last bar is late
    _schedule(late, now)
    tick = tick_of(drain_ticks(tenant_a.tenant_id)[0])
    assert run_tick(tick, now_ms=now, fetch=late) == "skipped: market data gap"
    assert late.calls["paper|ETH/USDT|1h"] == 2  # the scheduler's fetch, then the worker's retry
    gap = bots_a.get(f"/bots/{bot_id}/activity").json["items"][0]
    assert gap["kind"] == "market_data_gap" and "not been reported" in gap["summary"]
    assert _orders(tenant_a.tenant_id, bot_id) == []


def test_scheduler_ticks_a_thousand_due_bots_once_and_fetches_each_market_once(tenant_a: Caller) -> None:
    from shared.bots.models import BotRecord, due_bots
    from shared.clock import utc_now

    exchange = f"x{secrets.token_hex(3)}"  # markets no other test uses
    markets = [f"{exchange}|{symbol}|1m" for symbol in ("A/USDT", "B/USDT", "C/USDT", "D/USDT", "E/USDT")]
    feed = CandleFeed({market: (lambda open_ms: 10.0) for market in markets})
    now = _now_ms() // 60_000 * 60_000 + 5_000  # early in a minute, so +20 s is the same minute
    ids = [f"bot_{secrets.token_hex(13)}" for _ in range(1000)]
    with BotRecord.batch_write() as batch:
        for i, bot_id in enumerate(ids):
            record = BotRecord(
                tenant_id=tenant_a.tenant_id,
                bot_id=bot_id,
                name="many",
                exchange_account_id="paper",
                symbol="SOL/USDT",
                strategy_type="sma_cross",
                strategy_json='{"type":"sma_cross","params":{"fast":2,"slow":5,"timeframe":"1m"}}',
                risk_json="{}",
                status="running",
                created_at=utc_now(),
                updated_at=utc_now(),
                version=1,
            )
            record.schedule(markets[i % 5], now - 1000 * (i % 50))
            batch.save(record)

    first = _schedule(feed, now)
    assert all(feed.calls[market] == 1 for market in markets)
    ticks = [tick_of(m) for m in drain_ticks(tenant_a.tenant_id)]
    assert sorted(t.bot_id for t in ticks) == sorted(ids)  # each exactly once
    assert {t.close_ms for t in ticks} == {now // 60_000 * 60_000}
    assert first.advanced >= 1000

    second = _schedule(feed, now + 20_000)  # the same minute
    assert drain_ticks(tenant_a.tenant_id) == []
    assert all(feed.calls[market] == 1 for market in markets)  # the bar is stored: no second fetch
    assert not {b.bot_id for b in due_bots(now + 20_000)} & set(ids)
    assert second.enqueued < 1000

    _schedule(feed, now + 60_000)  # the next bar: every bot once more, every market fetched once more
    assert len(drain_ticks(tenant_a.tenant_id)) == 1000
    assert all(feed.calls[market] == 2 for market in markets)
    with BotRecord.batch_write() as batch:
        for bot_id in ids:
            batch.delete(BotRecord(tenant_id=tenant_a.tenant_id, bot_id=bot_id))


def test_a_dca_bot_places_its_base_order_then_its_take_profit_and_safety_order(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, steered: FixedPrices
) -> None:
    dca = {
        "type": "dca",
        "params": {
            "interval": "1h",
            "order_notional": "50",
            "price_deviation_pct": "2",
            "take_profit_pct": "1",
            "max_safety_orders": 3,
        },
    }
    bot_id = _start(bots_a, _bot(dca, symbol="SOL/USDT"))
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    feed = CandleFeed({"paper|SOL/USDT|1h": lambda open_ms: PRICE})
    now = _now_ms()
    _schedule(feed, now)
    run_worker(drain_ticks(tenant_a.tenant_id))
    rig.drain()
    base = _orders(tenant_a.tenant_id, bot_id)
    assert [(o.side, o.type, o.status) for o in base] == [("buy", "market", "FILLED")]

    _schedule(feed, now + 3_600_000)  # the next bar sees the fill
    run_worker(drain_ticks(tenant_a.tenant_id))
    rig.drain()
    fill = Decimal(base[0].cost) / Decimal(base[0].filled)  # the market order's price, slippage included
    cent = Decimal("0.01")
    resting = sorted(
        (o.side, o.type, Decimal(o.price)) for o in _orders(tenant_a.tenant_id, bot_id) if o.type == "limit"
    )
    assert resting == [
        ("buy", "limit", (fill * Decimal("0.98")).quantize(cent, ROUND_DOWN)),  # safety order 2% below the base
        ("sell", "limit", (fill * Decimal("1.01")).quantize(cent, ROUND_CEILING)),  # take profit 1% over the average
    ]
    decision = bots_a.get(f"/bots/{bot_id}/activity").json["items"][0]
    assert decision["data"]["fills_applied"] == 1 and len(decision["data"]["orders"]) == 2


def test_a_risk_rejection_shows_on_the_bot_activity(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, steered: FixedPrices
) -> None:
    risk = {"max_position_notional": 50, "max_daily_loss": 100, "max_open_orders": 4}
    bot_id = _start(bots_a, _bot(SMA_1H, risk=risk))  # wants 200 of SOL: over the 50 limit
    _schedule(CandleFeed({"paper|SOL/USDT|1h": _rising()}))
    run_worker(drain_ticks(tenant_a.tenant_id))
    TradingRig(test_cloud, tenant_a.tenant_id).drain()
    kinds = [item["kind"] for item in bots_a.get(f"/bots/{bot_id}/activity").json["items"]]
    assert sorted(kinds) == ["decision", "risk_rejection"]


def test_activity_pages_newest_first_and_another_tenant_gets_404(
    bots_a: LambdaApi, bots_b: LambdaApi, tenant_a: Caller
) -> None:
    from shared.bots.activity import record_activity

    created = bots_a.post("/bots", body=_bot(SMA_1H), headers=idempotency_header())
    bot_id = created.json["id"]
    for i in range(5):
        record_activity(
            tenant_a.tenant_id, bot_id, "decision", f"tick {i}", at_ms=1_700_000_000_000 + i * 60_000, entry_id="tick"
        )
    first = bots_a.get(f"/bots/{bot_id}/activity?limit=2").json
    second = bots_a.get(f"/bots/{bot_id}/activity?limit=2&cursor={first['next_cursor']}").json
    third = bots_a.get(f"/bots/{bot_id}/activity?limit=2&cursor={second['next_cursor']}").json
    summaries = [i["summary"] for page in (first, second, third) for i in page["items"]]
    assert summaries == ["tick 4", "tick 3", "tick 2", "tick 1", "tick 0"]
    assert third["next_cursor"] is None
    for path in (f"/bots/{bot_id}/activity", f"/bots/{bot_id}/performance"):
        other = bots_b.get(path)
        assert other.status == 404 and other.error_code == "not_found"


def test_two_workers_on_one_tick_place_one_order(
    bots_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch, steered: FixedPrices
) -> None:
    import threading

    from shared.bots import tick as tick_module
    from shared.orders.intents import create_intent as real_create

    bot_id = _start(bots_a, _bot(SMA_1H))
    _schedule(CandleFeed({"paper|SOL/USDT|1h": _rising()}))
    tick = tick_of(drain_ticks(tenant_a.tenant_id)[0])
    both_decided = threading.Barrier(2, timeout=30)

    def create_after_both_decided(**kwargs: Any) -> Any:
        both_decided.wait()  # neither has written anything yet: a true race
        return real_create(**kwargs)

    monkeypatch.setattr(tick_module, "create_intent", create_after_both_decided)
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.append(tick_module.run_tick(tick))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(r.split(" ")[0] for r in results) == ["buy", "skipped:"]
    assert len(_orders(tenant_a.tenant_id, bot_id)) == 1


def test_performance_counts_a_closed_trade_and_its_win(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, steered: FixedPrices
) -> None:
    bot_id = _start(bots_a, _bot(SMA_1H, symbol="SOL/USDT"))
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    now = _now_ms()
    feed = CandleFeed({"paper|SOL/USDT|1h": _rising()})
    _schedule(feed, now)
    run_worker(drain_ticks(tenant_a.tenant_id))
    rig.drain()  # bought 2 at 100 (plus slippage)

    feed.set("paper|SOL/USDT|1h", lambda open_ms: PRICE * 2 - open_ms / 1e10)  # falling: fast below slow: go flat
    steered.value = Decimal("110")
    _schedule(feed, now + 3_600_000)
    run_worker(drain_ticks(tenant_a.tenant_id))
    rig.drain()

    sides = sorted((o.side, o.status) for o in _orders(tenant_a.tenant_id, bot_id))
    assert sides == [("buy", "FILLED"), ("sell", "FILLED")]
    performance = bots_a.get(f"/bots/{bot_id}/performance").json
    assert performance["position"] == "0" and performance["trades"] == 1 and performance["winning_trades"] == 1
    assert performance["win_rate"] == 1.0 and Decimal(performance["realized_pnl"]) > 15  # ~2 x 10, less fees


def test_a_reversion_bar_without_entry_or_exit_keeps_the_position_held(
    bots_a: LambdaApi, tenant_a: Caller, steered: FixedPrices
) -> None:
    from shared.bots.tick import run_tick

    bollinger = {"type": "bollinger_reversion", "params": {"period": 5, "std_dev": 2, "timeframe": "1h"}}
    bot_id = _start(bots_a, _bot(bollinger, symbol="BTC/USDT"))  # a market no other test here reads
    # Flat closes: never below the lower band, never above the middle one.
    flat = CandleFeed({"paper|BTC/USDT|1h": lambda open_ms: PRICE})
    now = _now_ms()
    _schedule(flat, now)
    tick = tick_of(drain_ticks(tenant_a.tenant_id)[0])
    assert run_tick(tick, now_ms=now, fetch=flat) == "no entry or exit condition on this bar: keeping the position held"
    decision = bots_a.get(f"/bots/{bot_id}/activity").json["items"][0]
    assert decision["data"]["carried"] is True and decision["data"]["orders"] == []
    assert _orders(tenant_a.tenant_id, bot_id) == []
