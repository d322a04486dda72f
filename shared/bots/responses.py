"""Response shapes of the bots API.

Apart from the request shapes (`schemas`), which build every strategy's parameter models: the
functions that only change a bot's status (the kill switch, plan enforcement) answer with these.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.bots.lifecycle import BotStatus


class BotOut(BaseModel):
    id: str
    name: str
    exchange_account_id: str
    symbol: str
    strategy: dict[str, Any]
    risk: dict[str, Any]
    status: BotStatus
    version: int
    created_at: str
    updated_at: str


class BotList(BaseModel):
    items: list[BotOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null at the end.")


# ---- signal bots: the secret is shown once, at creation and at each rotation
class BotCreated(BotOut):
    signal_secret: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Signal bots only, shown this once: the secret TradingView alerts must carry "
        "(`secret` / `SECRET=` / `X-Signal-Secret`). Only its hash is stored; a replay of "
        "the create request leaves it out (rotate to get a new one).",
    )


class SignalSecretOut(BaseModel):
    bot_id: str
    signal_secret: str = Field(description="Shown this once; the previous secret stops working now.")
    rotated_at: str
