"""Request shapes of the bots API (its responses are in `responses`).

Only the functions that take a bot's configuration import this: it validates every strategy's
parameters, so it builds all their models.
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, model_validator

from shared.bots.limits import RiskLimits
from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
from shared.inputs import ExchangeAccountId, Name, RequestModel, Symbol
from shared.strategies.params import StrategyConfig

BotName = Name


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
