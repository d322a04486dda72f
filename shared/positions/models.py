"""The Positions table: one row per (account, symbol, bot) position and one per (bot, UTC day)
of realized PnL. Money is stored as decimal strings."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.models import Model

from shared.persistence import BaseMeta, get_or_none


class PositionRecord(Model):
    class Meta(BaseMeta):
        table_setting = "positions_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    position_key = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute(null=True)
    symbol = UnicodeAttribute(null=True)
    scope = UnicodeAttribute()  # bot id or "manual"
    quantity = UnicodeAttribute(default="0")
    average_entry = UnicodeAttribute(default="0")
    realized_pnl = UnicodeAttribute(default="0")
    fees = UnicodeAttribute(default="0")
    updated_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()


def position_key(account_id: str, symbol: str, scope: str) -> str:
    return f"pos#{account_id}#{symbol}#{scope}"


def daily_key(scope: str, day: datetime) -> str:
    return f"pnl#{scope}#{day.date().isoformat()}"


def get_position_row(tenant_id: str, key: str) -> PositionRecord | None:
    return get_or_none(PositionRecord, tenant_id, key)


def get_position_rows(tenant_id: str, keys: list[str]) -> dict[str, PositionRecord]:
    """Several rows of one tenant in one strongly consistent BatchGetItem (what a fill reads: its
    position and its day's PnL row), keyed by position key; missing rows are left out."""
    rows = PositionRecord.batch_get([(tenant_id, key) for key in keys], consistent_read=True)
    return {row.position_key: row for row in rows}


def list_positions(tenant_id: str) -> list[PositionRecord]:
    return list(PositionRecord.query(tenant_id, PositionRecord.position_key.startswith("pos#")))
