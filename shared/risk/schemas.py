"""Request and response shapes of the risk API."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from shared.inputs import DecimalText, RequestModel, Symbol


class RiskSettings(RequestModel):
    symbol_allowlist: list[Symbol] | None = Field(
        default=None, max_length=500, description="Only these symbols may be traded; null allows any."
    )
    max_price_deviation_pct: Annotated[
        Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=3), DecimalText(6, 3, maximum=100)
    ] = Field(default=Decimal("5"), description="Reject limit prices further than this from the last price.")


class RiskSettingsOut(RiskSettings):
    kill_switch: bool


class KillSwitchRequest(RequestModel):
    engaged: bool = True


class KillSwitchOut(BaseModel):
    kill_switch: bool
    bots_stopped: int
    orders_canceling: int
