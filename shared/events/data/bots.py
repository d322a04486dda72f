"""`data` of bot events."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class BotData(EventData):
    bot_id: str
    name: str
    symbol: str
    exchange_account_id: str
    strategy_type: str
    status: Literal["stopped", "running", "paused"]
    previous_status: Literal["stopped", "running", "paused"] | None = None
    changed_fields: list[str] | None = None
    # entitlements (issue 13): why the platform, not the user, stopped the bot
    # (`plan_downgraded`, `payment_failed`); absent for a user's own change.
    reason: str | None = None
