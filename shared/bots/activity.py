"""A bot's activity log: each tick's decision, each gap in its market data, each order refused by
the risk rules, each signal and its outcome. Rows expire (TTL) after `bot_activity_retention_days`.

`record_activity` is what every feature calls; it never raises, because a log line must never
stop a trade. A row keyed by a tick (`at_ms` = the bar's close time) is written again, not
twice, when the tick is redelivered.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from shared.clock import isoformat, utc_now
from shared.config import get_settings
from shared.observability import logger
from shared.pagination import decode_cursor, encode_cursor
from shared.persistence import BaseMeta

CURSOR_KIND = "bot-activity"


class BotActivityRecord(Model):
    class Meta(BaseMeta):
        table_setting = "bot_activity_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)  # "<bot id>#<at ms, 13 digits>#<kind>#<id>"
    bot_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    summary = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    bar_time_ms = NumberAttribute(null=True)
    data_json = UnicodeAttribute(default="{}")
    expires_at = NumberAttribute()  # TTL, epoch seconds


class ActivityOut(BaseModel):
    id: str
    kind: str = Field(description="decision, market_data_gap, risk_rejection, signal, skipped, error")
    at: str
    bar_time: str | None = Field(description="Open time of the bar the tick decided on.")
    summary: str
    data: dict[str, Any]


class ActivityList(BaseModel):
    items: list[ActivityOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next (older) page; null at the end.")


def _ms_iso(ms: int) -> str:
    return isoformat(datetime.fromtimestamp(ms / 1000, UTC))


def record_activity(
    tenant_id: str,
    bot_id: str,
    kind: str,
    summary: str,
    *,
    data: dict[str, Any] | None = None,
    bar_time_ms: int | None = None,
    at_ms: int | None = None,
    entry_id: str | None = None,
) -> str | None:
    """Append (or, with the same `at_ms` and `entry_id`, overwrite) one line of a bot's activity.
    Returns the line's id, or None if it could not be written (logged, never raised)."""
    now = utc_now()
    moment = at_ms if at_ms is not None else int(now.timestamp() * 1000)
    key = f"{bot_id}#{moment:013d}#{kind}#{entry_id or secrets.token_hex(4)}"
    expires = now + timedelta(days=get_settings().bot_activity_retention_days)
    try:
        BotActivityRecord(
            tenant_id=tenant_id,
            activity_key=key,
            bot_id=bot_id,
            kind=kind,
            summary=summary[:500],
            at=now,
            bar_time_ms=bar_time_ms,
            data_json=json.dumps(data or {}, default=str, separators=(",", ":")),
            expires_at=int(expires.timestamp()),
        ).save()
    except Exception:  # the log must never stop a trade
        logger.exception("could not record bot activity", extra={"bot_id": bot_id, "kind": kind})
        return None
    return key.split("#", 1)[1]


def list_activity(tenant_id: str, bot_id: str, *, limit: int, cursor: str | None) -> ActivityList:
    """Newest first; one Query on the tenant's partition, bounded to the bot's keys."""
    prefix = f"{bot_id}#"
    condition: Condition
    if cursor:
        after = decode_cursor(CURSOR_KIND, cursor)
        condition = BotActivityRecord.activity_key.between(prefix, prefix + after)
    else:
        condition = BotActivityRecord.activity_key.startswith(prefix)
    rows = []
    for row in BotActivityRecord.query(tenant_id, condition, scan_index_forward=False, limit=limit + 2):
        if cursor and row.activity_key == prefix + after:
            continue
        rows.append(row)
        if len(rows) > limit:
            break
    page, more = rows[:limit], len(rows) > limit
    items = [
        ActivityOut(
            id=row.activity_key.split("#", 1)[1],
            kind=row.kind,
            at=isoformat(row.at),
            bar_time=None if row.bar_time_ms is None else _ms_iso(int(row.bar_time_ms)),
            summary=row.summary,
            data=json.loads(row.data_json),
        )
        for row in page
    ]
    next_cursor = encode_cursor(CURSOR_KIND, page[-1].activity_key.split("#", 1)[1]) if more and page else None
    return ActivityList(items=items, next_cursor=next_cursor)
