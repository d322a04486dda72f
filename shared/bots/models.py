"""The Bots table and its data access (the only module that reads or writes it)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta


class BotRecord(Model):
    class Meta(BaseMeta):
        table_name = get_settings().bots_table

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
    try:
        return BotRecord.get(tenant_id, bot_id, consistent_read=True)
    except BotRecord.DoesNotExist:
        return None


def list_bots(tenant_id: str, *, limit: int, after: str | None) -> tuple[list[BotRecord], bool]:
    """One Query: up to `limit` bots after sort key `after`, and whether more exist."""
    range_condition = BotRecord.bot_id > after if after else None
    rows = list(BotRecord.query(tenant_id, range_condition, limit=limit + 1))
    return rows[:limit], len(rows) > limit
