"""A bot's risk limits: what the trade worker checks before every order of the bot.

Apart from the bots API's schemas, which validate every strategy's parameters: the trading
functions read a bot's limits without building those.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shared.inputs import RequestModel
from shared.strategies.quantities import Amount


class RiskLimits(RequestModel):
    model_config = ConfigDict(frozen=True)

    max_position_notional: Amount = Field(description="Largest position, in quote currency.")
    max_daily_loss: Amount = Field(description="Realized loss per UTC day (quote) that halts trading.")
    max_open_orders: int = Field(ge=1, le=100)
