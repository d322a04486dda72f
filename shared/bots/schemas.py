"""Request and response shapes of the bots API."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.bots.lifecycle import BotStatus
from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
from shared.inputs import Name, RequestModel
from shared.strategies.params import Amount, StrategyConfig

BotName = Name
# ccxt unified symbols: BASE/QUOTE, optionally :SETTLE for derivatives.
Symbol = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}(:[A-Z0-9]{1,12})?$")
]
ExchangeAccountId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^(paper|acct_[0-9a-z]{26})$")
]


class RiskLimits(RequestModel):
    model_config = ConfigDict(frozen=True)

    max_position_notional: Amount = Field(description="Largest position, in quote currency.")
    max_daily_loss: Amount = Field(description="Realized loss per UTC day (quote) that halts trading.")
    max_open_orders: int = Field(ge=1, le=100)


class BotCreate(RequestModel):
    name: BotName
    exchange_account_id: ExchangeAccountId = PAPER_ACCOUNT_ID
    symbol: Symbol
    strategy: StrategyConfig
    risk: RiskLimits


class BotUpdate(RequestModel):
    """Partial update. `status` and `tenant_id` are not fields: use start/stop, and the tenant is
    never the client's to choose."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: BotName | None = None
    exchange_account_id: ExchangeAccountId | None = None
    symbol: Symbol | None = None
    strategy: StrategyConfig | None = None
    risk: RiskLimits | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


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
