"""`data` of exchange account events."""

from __future__ import annotations

from shared.events.data import EventData


class ExchangeAccountData(EventData):
    account_id: str
    exchange: str
    label: str
    sandbox: bool
