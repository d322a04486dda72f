"""The tick scheduler: every minute, tick each due running bot once per bar of its timeframe.

1. Due bots come from the sparse `due` index (a few Queries, never a Scan).
2. Each market they read is refreshed once (`market_data.store.refresh_market`): one exchange
   call per market per bar however many bots use it, and none when the bar is already stored.
3. Ticks go to `bot-ticks.fifo` with SendMessageBatch, ten per call: message group = bot (a bot's
   ticks run in order), deduplication id = bot + bar close time (a second run in the same bar
   enqueues nothing new).
4. Each bot's next run moves to its next bar close with a conditional write (only if the bot is
   still scheduled and nobody moved it), after its tick was accepted by SQS: a failed send is
   retried by the next run, and SQS deduplication plus deterministic intent ids make that safe.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.aws_clients import aws_client
from shared.bots.models import BotRecord, advance_next_run, due_bots
from shared.config import get_settings
from shared.market_data.markets import MarketKey, last_close_ms
from shared.market_data.store import Fetch, Refresh, exchange_fetch, refresh_market
from shared.observability import logger

SEND_BATCH = 10  # SendMessageBatch's limit
PARALLEL_CALLS = 8


class BotTick(BaseModel):
    """One message on bot-ticks.fifo: decide for `bot_id` on the bar of `market` closing at `close_ms`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    bot_id: str
    market: str
    close_ms: int

    @property
    def deduplication_id(self) -> str:
        return f"{self.bot_id}:{self.close_ms}"


@dataclass
class SchedulerReport:
    due: int = 0
    enqueued: int = 0
    advanced: int = 0
    send_failures: int = 0
    markets: dict[str, Refresh] = field(default_factory=dict)

    @property
    def fetches(self) -> int:
        return sum(1 for refresh in self.markets.values() if refresh.fetched)


def _sqs() -> Any:
    return aws_client("sqs", max_pool_connections=16)  # batches are sent from a few threads


def lookback_bars(bot: BotRecord) -> int:
    """Bars the bot's strategy window reads (1 when its stored strategy cannot be read: the
    strategy worker reports that on the bot's activity)."""
    from shared.strategies.registry import STRATEGIES, ExternalStrategy

    try:
        config = json.loads(bot.strategy_json)
        strategy = STRATEGIES[config["type"]]
        if isinstance(strategy, ExternalStrategy):
            return 1
        return int(strategy.lookback(strategy.params_model.model_validate(config["params"])))
    except (KeyError, ValueError):
        return 1


def _send(batch: list[BotTick]) -> set[str]:
    """One SendMessageBatch; the bot ids SQS accepted."""
    entries = [
        {
            "Id": str(i),
            "MessageBody": tick.model_dump_json(),
            "MessageGroupId": tick.bot_id,
            "MessageDeduplicationId": tick.deduplication_id,
        }
        for i, tick in enumerate(batch)
    ]
    try:
        reply = _sqs().send_message_batch(QueueUrl=get_settings().bot_ticks_queue_url, Entries=entries)
    except Exception:
        logger.exception("could not send a batch of bot ticks; the next run retries them")
        return set()
    for failure in reply.get("Failed", []):
        logger.warning("bot tick refused by SQS", extra={"code": failure.get("Code")})
    return {batch[int(ok["Id"])].bot_id for ok in reply.get("Successful", [])}


def _batches(ticks: list[BotTick]) -> Iterable[list[BotTick]]:
    for start in range(0, len(ticks), SEND_BATCH):
        yield ticks[start : start + SEND_BATCH]


def run_scheduler(now_ms: int, *, fetch: Fetch = exchange_fetch) -> SchedulerReport:
    report = SchedulerReport()
    by_market: dict[str, list[BotRecord]] = defaultdict(list)
    for bot in due_bots(now_ms):
        if bot.market_key:
            by_market[bot.market_key].append(bot)
    report.due = sum(len(bots) for bots in by_market.values())
    if not by_market:
        return report
    cap = get_settings().market_data_max_bars

    def refresh(item: tuple[str, list[BotRecord]]) -> Refresh:
        market = MarketKey.parse(item[0])
        return refresh_market(market, min(max(lookback_bars(bot) for bot in item[1]), cap), now_ms, fetch=fetch)

    ticks: list[BotTick] = []
    next_runs: dict[str, tuple[BotRecord, int]] = {}
    with ThreadPoolExecutor(PARALLEL_CALLS) as pool:
        for key, result in zip(by_market, pool.map(refresh, by_market.items()), strict=True):
            report.markets[key] = result
        for key, bots in by_market.items():
            market = MarketKey.parse(key)
            close = last_close_ms(now_ms, market.timeframe)
            for bot in bots:
                ticks.append(BotTick(tenant_id=bot.tenant_id, bot_id=bot.bot_id, market=key, close_ms=close))
                next_runs[bot.bot_id] = (bot, close + market.span_ms)
        accepted: set[str] = set()
        for sent in pool.map(_send, _batches(ticks)):
            accepted |= sent
        report.enqueued = len(accepted)
        report.send_failures = len(ticks) - len(accepted)

        def advance(bot_id: str) -> bool:
            bot, next_ms = next_runs[bot_id]
            return advance_next_run(bot.tenant_id, bot.bot_id, seen_ms=int(bot.next_run_at or 0), next_ms=next_ms)

        report.advanced = sum(pool.map(advance, sorted(accepted)))
    return report
