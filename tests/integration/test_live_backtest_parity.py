"""A backtest predicts the bot: one candle series replayed through the live tick path (the scheduler,
the strategy worker's handler, the trade worker on the paper exchange) and through the backtest
gives the same entries and exits, on the same bars, on the same sides.

The clock is driven by hand: at each bar's close the scheduler runs "then", with the series'
candles as the exchange's (`SeriesFeed`); the orders it causes are executed with the paper
exchange's price steered to the next bar's open, which is where the backtest fills them. Fees and
slippage are zero on both sides; the paper exchange still fills a market order at its ask/bid, one
price step from the price, so prices agree to that step. The series keeps every move while long
inside the bot's rebalance threshold (10 %), so the live bot only enters and exits, as the
backtest's 0/1 position does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from shared.exchange.protocol import Candle
from shared.market_data.markets import MarketKey
from tests.support.api import Caller, LambdaApi, idempotency_header
from tests.support.aws import TestCloud
from tests.support.bots import drain_ticks, run_worker
from tests.support.trading import TradingRig

HOUR = 3_600_000
SYMBOL = "DOGE/USDT"  # a paper market no other bot test reads on 1h
MARKET = f"paper|{SYMBOL}|1h"
PRICE_STEP = Decimal("0.00001")  # DOGE/USDT's tick on the paper exchange
WARM_UP = 6  # flat bars before the wave: the SMAs are equal, so the bot starts flat
Bar = tuple[float, float, float, float]


class SteeredPrice:
    """The paper exchange's price source, set by the test to the bar open where orders execute."""

    def __init__(self) -> None:
        self.value = Decimal(100)

    def price(self, symbol: str, timestamp_ms: int) -> Decimal:
        return self.value


class SeriesFeed:
    """The exchange's candles: the series' bars that have opened by `now_ms` (the last still open)."""

    def __init__(self, first_open_ms: int, bars: list[Bar], *, span_ms: int = HOUR, market: str = MARKET) -> None:
        self.first_open_ms = first_open_ms
        self.bars = bars
        self.span_ms = span_ms
        self.market = market

    def __call__(self, market: MarketKey, limit: int, now_ms: int) -> list[Candle]:
        if str(market) != self.market:
            from shared.market_data.store import exchange_fetch

            return exchange_fetch(market, limit, now_ms)
        current = (now_ms - self.first_open_ms) // self.span_ms
        rows = []
        for index in range(max(current - limit + 1, 0), min(current, len(self.bars) - 1) + 1):
            o, h, low, c = (Decimal(repr(v)) for v in self.bars[index])
            rows.append(Candle(self.first_open_ms + index * self.span_ms, o, h, low, c, Decimal(1)))
        return rows


def wave(bars: int) -> list[Bar]:
    """Flat warm-up, then a +-3 % wave of period 12 bars starting downwards; each bar opens at the
    previous close, prices on a cent grid (exact in JSON and in floats)."""
    closes = [100.0] * WARM_UP + [
        round(100 * (1 - 0.03 * math.sin(2 * math.pi * j / 12)), 2) for j in range(1, bars - WARM_UP + 1)
    ]
    series: list[Bar] = []
    for i, close in enumerate(closes):
        opening = closes[i - 1] if i else close
        series.append((opening, round(max(opening, close) * 1.002, 2), round(min(opening, close) * 0.998, 2), close))
    return series


@pytest.fixture
def paper_without_costs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SteeredPrice]:
    from shared.config import get_settings
    from shared.exchange import connect, paper

    source = SteeredPrice()
    free = replace(get_settings(), paper_taker_fee=Decimal(0), paper_maker_fee=Decimal(0), paper_slippage=Decimal(0))
    monkeypatch.setattr(paper, "default_price_source", lambda: source)
    monkeypatch.setattr(paper, "get_settings", lambda: free)
    connect._instances.clear()
    yield source
    connect._instances.clear()


def _live_fills(tenant_id: str, bot_id: str, first_open_ms: int) -> list[tuple[int, str, Decimal]]:
    """(bar the order executed at, side, average fill price) of the bot's filled orders."""
    from shared.orders.models import OrderRecord

    fills = []
    for order in OrderRecord.query(tenant_id):
        if order.bot_id != bot_id:
            continue
        assert order.status == "FILLED", (order.intent_id, order.status)
        decided_at_close = int(order.intent_id.split(":")[1])  # tick:<bar close ms>:target
        fills.append(
            ((decided_at_close - first_open_ms) // HOUR, order.side, Decimal(order.cost) / Decimal(order.filled))
        )
    return sorted(fills)


def test_sma_cross_enters_and_exits_live_where_the_backtest_does(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, paper_without_costs: SteeredPrice
) -> None:
    from shared.backtest.candles import Candles
    from shared.backtest.config import BacktestConfig
    from shared.backtest.engine import simulate
    from shared.bots.schedule import run_scheduler
    from shared.strategies.candles import Candles as StrategyCandles
    from shared.strategies.indicator_params import SmaCrossParams
    from shared.strategies.trend import sma_cross

    strategy = {
        "type": "sma_cross",
        "params": {"fast": 2, "slow": 5, "timeframe": "1h", "sizing": {"mode": "fixed_notional", "notional": "200"}},
    }
    body = {
        "name": "parity",
        "symbol": SYMBOL,
        "exchange_account_id": "paper",
        "strategy": strategy,
        "risk": {"max_position_notional": 1000, "max_daily_loss": 1000, "max_open_orders": 4},
    }
    created = bots_a.post("/bots", body=body, headers=idempotency_header())
    assert created.status == 201, created.text
    bot_id = created.json["id"]
    assert bots_a.post(f"/bots/{bot_id}/start").status == 200

    # The bot's first tick is the close of the bar open now: the series starts WARM_UP bars before it.
    first_open = int(time.time() * 1000) // HOUR * HOUR - WARM_UP * HOUR
    series = wave(40)
    feed = SeriesFeed(first_open, series)
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    for bar in range(WARM_UP, len(series) - 1):  # the last bar's decision is never executed
        close_ms = first_open + (bar + 1) * HOUR
        run_scheduler(close_ms + 1_000, fetch=feed)
        ticks = drain_ticks(tenant_a.tenant_id)
        assert len(ticks) == 1, f"bar {bar}: {len(ticks)} ticks"
        assert run_worker(ticks) == {"batchItemFailures": []}
        paper_without_costs.value = Decimal(repr(series[bar + 1][0]))  # orders execute at the next open
        rig.drain()
    live = _live_fills(tenant_a.tenant_id, bot_id, first_open)

    columns = list(zip(*series, strict=True))
    candles = Candles.from_arrays(first_open + np.arange(len(series)) * HOUR, *columns)
    view = StrategyCandles(candles.timestamps, candles.open, candles.high, candles.low, candles.close, candles.volume)
    target = sma_cross(view, SmaCrossParams(fast=2, slow=5, timeframe="1h")).positions
    trades, _ = simulate(
        candles, target, BacktestConfig(starting_cash=10_000, sizing="fixed_notional", fixed_notional=200)
    )
    expected: list[tuple[int, str, float]] = []
    for trade in trades.records():
        expected.append((trade["entry_bar"], "buy", trade["entry_price"]))
        if trade["exit_reason"] == "signal":  # end_of_data is the backtest's own close-out
            expected.append((trade["exit_bar"], "sell", trade["exit_price"]))

    assert len(expected) >= 5, expected  # the wave makes the bot trade a few times
    assert [(bar, side) for bar, side, _ in live] == [(bar, side) for bar, side, _ in expected]
    for (_, side, live_price), (_, _, backtest_price) in zip(live, expected, strict=True):
        # The paper exchange buys at its ask and sells at its bid: one tick from the price.
        spread = PRICE_STEP if side == "buy" else -PRICE_STEP
        assert live_price == Decimal(repr(backtest_price)) + spread
    still_long = trades.records()[-1]["exit_reason"] == "end_of_data"
    from shared.positions.ledger import position_quantity

    held = position_quantity(tenant_a.tenant_id, "paper", SYMBOL, bot_id)
    assert (held > 0) == still_long


# ----------------------------------------------------------------------------------- a grid (stepped)
MINUTE = 60_000
GRID_SYMBOL = "XRP/USDT"  # a paper market no other bot test reads
# A grid has no timeframe: live, it steps every minute (market paper|XRP/USDT|1m).
GRID_TICK = Decimal("0.0001")
GRID_BARS: list[Bar] = [
    (97.0, 97.2, 96.8, 97.0),  # close: the init buy (2 for the two initial sells) and buys at 90 and 95
    (97.0, 97.5, 96.5, 97.0),  # init fills at the open; close: sells at 105 and 110
    (97.0, 101.0, 94.0, 100.0),  # the low first: the buy at 95 fills
    (100.2, 106.0, 99.5, 104.0),  # the re-armed sell at 100 is below the open: fills at it; then 105
    (104.0, 104.5, 99.0, 101.0),  # the re-armed buy at 100
    (101.0, 111.0, 100.5, 109.0),  # the high first: 105 and 110 sell
    (109.0, 109.5, 89.5, 92.0),  # a fall through 105, 100, 95, 90
    (92.0, 96.0, 91.5, 95.5),  # the sell re-armed at 95 fills
    (95.5, 101.0, 95.2, 100.5),
    (100.5, 100.8, 99.8, 100.2),
]


def _run_stepped_live(
    bots_a: LambdaApi,
    tenant_a: Caller,
    test_cloud: TestCloud,
    price: SteeredPrice,
    *,
    symbol: str,
    strategy: dict[str, Any],
    bars: list[Bar],
) -> list[tuple[int, str, str, Decimal]]:
    """The 1-minute bars through the live path; returns (bar, leg, side, fill price) of every
    filled order of the bot, the bar being the one during which it filled."""
    from functions.orders_api.app import lambda_handler as orders_handler
    from shared.bots.schedule import run_scheduler
    from shared.orders.models import OrderRecord

    # The tenant's risk rule refuses limit prices over 5 % from the last price by default: a grid's
    # outer levels are further. The backtest does not model the tenant's risk rules; widen it.
    widened = LambdaApi(orders_handler, tenant_a).request("PUT", "/risk/settings", body={"max_price_deviation_pct": 50})
    assert widened.status == 200, widened.text
    body = {
        "name": "stepped parity",
        "symbol": symbol,
        "exchange_account_id": "paper",
        "strategy": strategy,
        "risk": {"max_position_notional": 100_000, "max_daily_loss": 100_000, "max_open_orders": 20},
    }
    created = bots_a.post("/bots", body=body, headers=idempotency_header())
    assert created.status == 201, created.text
    bot_id = created.json["id"]
    assert bots_a.post(f"/bots/{bot_id}/start").status == 200
    first_open = int(time.time() * 1000) // MINUTE * MINUTE  # the bot's first tick: this bar's close
    feed = SeriesFeed(first_open, bars, span_ms=MINUTE, market=f"paper|{symbol}|1m")
    rig = TradingRig(test_cloud, tenant_a.tenant_id)
    seen: set[str] = set()
    fills: list[tuple[int, str, str, Decimal]] = []
    for bar, (opening, high, low, close) in enumerate(bars):
        if bar > 0:  # the last close's orders execute at this open, then the price walks the bar's path
            nearer, farther = (low, high) if opening - low <= high - opening else (high, low)
            for point in (opening, nearer, farther, close):
                price.value = Decimal(repr(point))
                rig.drain()
                rig.reconcile()
        for order in OrderRecord.query(tenant_a.tenant_id):
            if order.bot_id == bot_id and order.status == "FILLED" and order.order_id not in seen:
                seen.add(order.order_id)
                leg = order.intent_id.split(":", 1)[1]  # e<epoch>:<leg>
                fills.append((bar, leg, order.side, Decimal(order.cost) / Decimal(order.filled)))
        if bar < len(bars) - 1:
            run_scheduler(first_open + (bar + 1) * MINUTE + 1_000, fetch=feed)
            ticks = drain_ticks(tenant_a.tenant_id)
            assert len(ticks) == 1, f"bar {bar}: {len(ticks)} ticks"
            assert run_worker(ticks) == {"batchItemFailures": []}
    return fills


def test_a_grid_fills_live_the_legs_the_backtest_fills_on_the_same_bars(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, paper_without_costs: SteeredPrice
) -> None:
    from shared.backtest.candles import Candles
    from shared.backtest.config import BacktestConfig
    from shared.backtest.stepped import simulate_stepped
    from shared.strategies.registry import STRATEGIES, SteppedStrategy
    from shared.strategies.stepped_params import GridParams

    grid_strategy = {
        "type": "grid",
        "params": {"lower_price": "90", "upper_price": "110", "levels": 5, "order_amount": "1"},
    }
    live = _run_stepped_live(
        bots_a, tenant_a, test_cloud, paper_without_costs, symbol=GRID_SYMBOL, strategy=grid_strategy, bars=GRID_BARS
    )

    columns = list(zip(*GRID_BARS, strict=True))
    candles = Candles.from_arrays(np.arange(len(GRID_BARS)) * MINUTE, *columns)
    grid = STRATEGIES["grid"]
    assert isinstance(grid, SteppedStrategy)
    params = GridParams(lower_price=Decimal(90), upper_price=Decimal(110), levels=5, order_amount=Decimal(1))
    run = simulate_stepped(candles, grid, params, BacktestConfig(starting_cash=10_000))
    expected = [(f.bar, f.leg, f.side, f.price) for f in run.fills]

    assert len(expected) >= 10, expected
    key = lambda fill: fill[:3]  # noqa: E731 - within one bar the paper reconciler's order is its own
    assert sorted(map(key, live)) == sorted(map(key, expected)), (live, expected)
    prices = {fill[:3]: fill[3] for fill in expected}
    for fill in live:
        # Resting limits fill at their price on both sides; orders filled on placement (market, or a
        # limit the open crossed) take the paper exchange's ask/bid, one tick from the open.
        assert abs(fill[3] - Decimal(repr(prices[fill[:3]]))) <= GRID_TICK, fill


DCA_BARS: list[Bar] = [
    (100.0, 100.0, 100.0, 100.0),  # close: the base order (market, 1 coin)
    (100.0, 100.5, 99.5, 100.0),  # base fills at the open; close: take profit @101, safety order @98
    (100.0, 100.8, 97.5, 98.5),  # the safety order fills; close: the take profit re-keyed @99.99, tp1 cancelled
    (98.5, 99.5, 98.0, 99.0),
    (99.0, 100.5, 98.8, 100.0),  # the re-keyed take profit fills: the cycle ends; close: a new base order
    (100.0, 100.3, 99.7, 100.0),  # the second cycle's base fills at the open
    (100.0, 100.2, 99.8, 100.0),
]


def test_a_dca_cycle_fills_live_the_legs_the_backtest_fills_on_the_same_bars(
    bots_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud, paper_without_costs: SteeredPrice
) -> None:
    from shared.backtest.candles import Candles
    from shared.backtest.config import BacktestConfig
    from shared.backtest.stepped import simulate_stepped
    from shared.strategies.registry import STRATEGIES, SteppedStrategy
    from shared.strategies.stepped_params import DcaParams

    params = {
        "interval": "1m",
        "order_notional": "100",
        "price_deviation_pct": "2",
        "take_profit_pct": "1",
        "max_safety_orders": 2,
    }
    live = _run_stepped_live(
        bots_a,
        tenant_a,
        test_cloud,
        paper_without_costs,
        symbol="ETH/USDT",  # no other test reads or stores candles of paper|ETH/USDT|1m
        strategy={"type": "dca", "params": params},
        bars=DCA_BARS,
    )
    columns = list(zip(*DCA_BARS, strict=True))
    candles = Candles.from_arrays(np.arange(len(DCA_BARS)) * MINUTE, *columns)
    dca = STRATEGIES["dca"]
    assert isinstance(dca, SteppedStrategy)
    run = simulate_stepped(candles, dca, DcaParams.model_validate(params), BacktestConfig(starting_cash=10_000))
    expected = [(f.bar, f.leg, f.side) for f in run.fills]
    assert expected == [
        (1, "dca:c1:base", "buy"),
        (2, "dca:c1:so1", "buy"),
        (4, "dca:c1:tp2", "sell"),
        (5, "dca:c2:base", "buy"),
    ]
    assert sorted(fill[:3] for fill in live) == sorted(expected), live
