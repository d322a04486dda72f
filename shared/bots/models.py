"""The Bots table and its data access (the only module that reads or writes it)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.models import Model

from shared.persistence import BaseMeta, get_or_none


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
