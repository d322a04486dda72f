"""The BotStates table: what a bot's strategy remembers between ticks, one row per bot.

Versioned (optimistic locking): two workers on the same tick cannot both move the state on; the
loser finds the winner's row and stops. `epoch` counts strategy restarts: it scopes the intent
ids of stepped strategies, whose leg counters start over with a fresh state.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from shared.clock import utc_now
from shared.persistence import BaseMeta, get_or_none


class BotStateRecord(Model):
    class Meta(BaseMeta):
        table_setting = "bot_states_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    bot_id = UnicodeAttribute(range_key=True)
    strategy_digest = UnicodeAttribute()  # the strategy this state belongs to
    epoch = NumberAttribute(default=1)
    last_bar_ms = NumberAttribute(default=0)  # close time of the last bar evaluated
    strategy_state_json = UnicodeAttribute(null=True)  # a stepped strategy's state
    legs_json = UnicodeAttribute(default="{}")  # leg -> {"order_id", "seen": filled amount already applied}
    updated_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()

    def legs(self) -> dict[str, dict[str, Any]]:
        loaded: dict[str, dict[str, Any]] = json.loads(self.legs_json)
        return loaded


class StateConflict(Exception):
    """Another worker moved the state on first."""


def strategy_digest(strategy_json: str) -> str:
    return hashlib.sha256(strategy_json.encode()).hexdigest()[:16]


def load_state(tenant_id: str, bot_id: str, strategy_json: str) -> BotStateRecord:
    """The bot's state for its current strategy: a fresh one (next epoch) after a strategy change."""
    digest = strategy_digest(strategy_json)
    row = get_or_none(BotStateRecord, tenant_id, bot_id)
    if row is None:
        return BotStateRecord(tenant_id=tenant_id, bot_id=bot_id, strategy_digest=digest, epoch=1)
    if row.strategy_digest != digest:
        row.strategy_digest = digest
        row.epoch = int(row.epoch) + 1
        row.last_bar_ms = 0
        row.strategy_state_json = None
        row.legs_json = "{}"
    return row


def save_state(row: BotStateRecord) -> None:
    """Version-checked save; StateConflict if another worker saved first."""
    row.updated_at = utc_now()
    try:
        row.save()
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            raise StateConflict(row.bot_id) from exc
        raise
