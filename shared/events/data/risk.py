"""`data` of risk events: a rule stopping an order, the kill switch, the tenant's risk settings."""

from __future__ import annotations

from shared.events.data import EventData


class RiskBreachData(EventData):
    order_id: str | None
    bot_id: str | None
    rule: str
    message: str
    limit: str | None = None
    observed: str | None = None


class KillSwitchData(EventData):
    engaged: bool
    bots_stopped: int
    orders_canceling: int


class RiskSettingsData(EventData):
    symbol_allowlist: list[str] | None
    max_price_deviation_pct: str
