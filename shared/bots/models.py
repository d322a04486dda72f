"""The Bots table and its data access (the only module that reads or writes it).

`due` is a sparse index of running bots by next tick time (only running, ticking bots carry
`due_shard`), so the scheduler finds due bots with a few Queries, never a Scan.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from shared.persistence import BaseMeta, get_or_none

# Shards of the due index: spreads the scheduler's writes over partitions; each is one Query.
DUE_SHARDS = 4
DUE_PAGE = 500  # rows per Query page: bounded responses, however many bots are due


class DueIndex(GlobalSecondaryIndex["BotRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "due"
        # Only what the scheduler reads: keys, market and strategy (for the window length).
        projection = IncludeProjection(["market_key", "strategy_json"])

    due_shard = UnicodeAttribute(hash_key=True)
    next_run_at = NumberAttribute(range_key=True)


class BotRecord(Model):
    class Meta(BaseMeta):
        table_setting = "bots_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    bot_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    exchange_account_id = UnicodeAttribute()
    symbol = UnicodeAttribute()
    strategy_type = UnicodeAttribute()
    # Canonical JSON of the validated strategy and risk models: decimals stay exact strings.
    strategy_json = UnicodeAttribute()
    risk_json = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()
    # Set only while the bot runs and ticks (see `schedule` / `unschedule`): the due index.
    due_shard = UnicodeAttribute(null=True)
    next_run_at = NumberAttribute(null=True)  # epoch ms of the next tick
    market_key = UnicodeAttribute(null=True)  # str(MarketKey) the bot reads

    due = DueIndex()

    def schedule(self, market_key: str, next_run_ms: int) -> None:
        """Put the bot on the scheduler's due index, first tick at `next_run_ms`."""
        self.due_shard = f"due-{zlib.crc32(self.bot_id.encode()) % DUE_SHARDS}"
        self.next_run_at = next_run_ms
        self.market_key = market_key

    def unschedule(self) -> None:
        self.due_shard = None
        self.next_run_at = None


def get_bot(tenant_id: str, bot_id: str) -> BotRecord | None:
    return get_or_none(BotRecord, tenant_id, bot_id)


def list_bots(tenant_id: str, *, limit: int, after: str | None) -> tuple[list[BotRecord], bool]:
    """One Query: up to `limit` bots after sort key `after`, and whether more exist."""
    range_condition = BotRecord.bot_id > after if after else None
    rows = list(BotRecord.query(tenant_id, range_condition, limit=limit + 1))
    return rows[:limit], len(rows) > limit


def list_active_bots(tenant_id: str) -> list[BotRecord]:
    """The tenant's running and paused bots (one Query; the status filter is applied server-side)."""
    return list(BotRecord.query(tenant_id, filter_condition=BotRecord.status.is_in("running", "paused")))


def due_bots(now_ms: int) -> Iterator[BotRecord]:
    """Every bot whose next tick is at or before `now_ms`: one Query per shard of the sparse index."""
    for shard in range(DUE_SHARDS):
        yield from BotRecord.due.query(f"due-{shard}", BotRecord.next_run_at <= now_ms, page_size=DUE_PAGE)


def advance_next_run(tenant_id: str, bot_id: str, *, seen_ms: int, next_ms: int) -> bool:
    """Move a due bot's next tick forward, only if nobody moved it (or unscheduled the bot) since
    the scheduler read it. A plain UpdateItem: the bot's version (the API's optimistic lock) is
    left alone, so a tick never makes a user's edit fail."""
    try:
        BotRecord._get_connection().update_item(  # the model's own table connection
            tenant_id,
            bot_id,
            actions=[BotRecord.next_run_at.set(next_ms)],
            condition=(BotRecord.next_run_at == seen_ms) & BotRecord.due_shard.exists(),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def count_bots(tenant_id: str) -> int:
    """How many bots the tenant has, any status (one Query, counted server-side)."""
    return int(BotRecord.count(tenant_id))
