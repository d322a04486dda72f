"""The Signals table: each signal a bot received and what became of it, plus the short-lived rows
that deduplicate and rate-limit signals. Tenant-keyed like every tenant-owned table; every row
expires (TTL on `expires_at`). Data access for it lives here only.

Sort keys: `sig#<bot>#<signal id>` (signal ids are time-ordered, so a bot's signals read back in
order), `dedup#<bot>#<digest>`, `rate#<bot>#<window start>`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta, get_or_none


class SignalRecord(Model):
    class Meta(BaseMeta):
        table_setting = "signals_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    signal_key = UnicodeAttribute(range_key=True)
    signal_id = UnicodeAttribute()
    bot_id = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    # accepted -> executed | skipped | failed; or refused / duplicate at once.
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)  # a stable code: stale, symbol_mismatch, ...
    message = UnicodeAttribute(null=True)
    http_status = NumberAttribute()
    fields_json = UnicodeAttribute(null=True)  # the parsed signal, without the secret
    duplicate_of = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    outcome_json = UnicodeAttribute(null=True)  # execution: position, target, order side and amount
    updated_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute()
    version = VersionAttribute()

    def fields(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.fields_json) if self.fields_json else {}
        return loaded


class SignalMarker(Model):
    """A dedup key (holding the first signal's id) or a rate-limit counter."""

    class Meta(BaseMeta):
        table_setting = "signals_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    signal_key = UnicodeAttribute(range_key=True)
    signal_id = UnicodeAttribute(null=True)
    hits = NumberAttribute(null=True)
    expires_at = NumberAttribute()


def signal_key(bot_id: str, signal_id: str) -> str:
    return f"sig#{bot_id}#{signal_id}"


def expiry(now: datetime, seconds: float) -> int:
    return int((now + timedelta(seconds=seconds)).timestamp())


def retention_expiry(now: datetime) -> int:
    return expiry(now, get_settings().signal_retention_days * 86400)


def get_signal(tenant_id: str, bot_id: str, signal_id: str) -> SignalRecord | None:
    return get_or_none(SignalRecord, tenant_id, signal_key(bot_id, signal_id))


def get_marker(tenant_id: str, key: str) -> SignalMarker | None:
    return get_or_none(SignalMarker, tenant_id, key)


def count_in_window(tenant_id: str, bot_id: str, window_start: int, expires_at: int) -> int:
    """Add one to the bot's counter for the window starting at `window_start`; the new count."""
    marker = SignalMarker(tenant_id=tenant_id, signal_key=f"rate#{bot_id}#{window_start}", expires_at=expires_at)
    marker.update(actions=[SignalMarker.hits.add(1), SignalMarker.expires_at.set(expires_at)])
    return int(marker.hits or 0)


def list_bot_signals(tenant_id: str, bot_id: str, *, limit: int) -> list[SignalRecord]:
    """The bot's latest signals, newest first (one Query)."""
    return list(
        SignalRecord.query(
            tenant_id, SignalRecord.signal_key.startswith(f"sig#{bot_id}#"), scan_index_forward=False, limit=limit
        )
    )
