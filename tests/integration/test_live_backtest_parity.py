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
from decimal import Decimal

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

    def __init__(self, first_open_ms: int, bars: list[Bar]) -> None:
        self.first_open_ms = first_open_ms
        self.bars = bars

    def __call__(self, market: MarketKey, limit: int, now_ms: int) -> list[Candle]:
        if str(market) != MARKET:
            from shared.market_data.store import exchange_fetch

            return exchange_fetch(market, limit, now_ms)
        current = (now_ms - self.first_open_ms) // HOUR
        rows = []
        for index in range(max(current - limit + 1, 0), min(current, len(self.bars) - 1) + 1):
            o, h, low, c = (Decimal(repr(v)) for v in self.bars[index])
            rows.append(Candle(self.first_open_ms + index * HOUR, o, h, low, c, Decimal(1)))
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
    free = get_settings().model_copy(
        update={"paper_taker_fee": Decimal(0), "paper_maker_fee": Decimal(0), "paper_slippage": Decimal(0)}
    )
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
    from shared.strategies.params import SmaCrossParams
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
