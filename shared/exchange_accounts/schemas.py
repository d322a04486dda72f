"""Request and response shapes for exchange accounts, balances and markets."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from shared.inputs import Name, RequestModel

ExchangeId = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=r"^[a-z0-9]+$")]
Label = Name
SecretField = Annotated[SecretStr, Field(min_length=1, max_length=512)]


class ExchangeAccountCreate(RequestModel):
    """Credentials are SecretStr: they never show up in reprs, logs or validation errors."""

    model_config = ConfigDict(hide_input_in_errors=True)

    exchange: ExchangeId
    label: Label
    api_key: SecretField
    secret: SecretField
    password: SecretField | None = Field(default=None, description="Passphrase, for exchanges that use one (OKX).")
    sandbox: bool = False


class ExchangeAccountOut(BaseModel):
    id: str
    exchange: str
    label: str
    sandbox: bool
    status: str
    api_key_last4: str | None = Field(description="Last four characters of the API key; the rest is never shown.")
    created_at: str | None


class ExchangeAccountList(BaseModel):
    items: list[ExchangeAccountOut]


class BalanceOut(BaseModel):
    free: str
    used: str
    total: str


class BalancesOut(BaseModel):
    exchange_account_id: str
    balances: dict[str, BalanceOut]


class MarketOut(BaseModel):
    exchange: str
    symbol: str
    base: str
    quote: str
    last: str
    bid: str | None
    ask: str | None
    amount_step: str
    price_step: str
    min_amount: str
    max_amount: str | None
    min_cost: str
