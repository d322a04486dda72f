"""Request and response shapes of the orders and positions API."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, PlainSerializer, model_validator

from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
from shared.inputs import DecimalText, ExchangeAccountId, RequestModel, Symbol
from shared.money import decimal_text

# Up to 30 significant digits and 18 decimals: looser than any market, which is checked next.
OrderNumber = Annotated[
    Decimal,
    Field(gt=0, max_digits=30, decimal_places=18, allow_inf_nan=False),
    DecimalText(30, 18),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
]


class OrderCreate(RequestModel):
    exchange_account_id: ExchangeAccountId = PAPER_ACCOUNT_ID
    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    amount: OrderNumber = Field(description="Base currency amount; must fit the market's step.")
    price: OrderNumber | None = Field(default=None, description="Required for limit orders; not for market.")
    stop_loss: OrderNumber | None = None
    take_profit: OrderNumber | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type == "limit" and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.type == "market" and self.price is not None:
            raise ValueError("a market order takes no price")
        reference = self.price
        if reference is not None:
            below, above = (
                (self.stop_loss, self.take_profit) if self.side == "buy" else (self.take_profit, self.stop_loss)
            )
            if below is not None and below >= reference:
                raise ValueError("for a buy, stop_loss must be below the price (for a sell, take_profit)")
            if above is not None and above <= reference:
                raise ValueError("for a buy, take_profit must be above the price (for a sell, stop_loss)")
        return self


class Fee(BaseModel):
    cost: str
    currency: str | None


class OrderOut(BaseModel):
    id: str
    client_order_id: str
    exchange_order_id: str | None
    exchange_account_id: str
    exchange: str
    bot_id: str | None
    symbol: str
    side: str
    type: str
    amount: str
    price: str | None
    stop_loss: str | None
    take_profit: str | None
    status: str
    filled: str
    average_price: str | None
    cost: str
    fee: Fee
    fills: list[dict[str, Any]]
    reason: str | None
    cancel_requested: bool
    created_at: str
    updated_at: str


class OrderList(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class PositionOut(BaseModel):
    exchange_account_id: str
    symbol: str
    bot_id: str | None
    quantity: str
    average_entry_price: str
    last_price: str | None
    realized_pnl: str
    unrealized_pnl: str | None
    fees: str


class AccountPnl(BaseModel):
    realized_pnl: str
    unrealized_pnl: str


class PositionList(BaseModel):
    items: list[PositionOut]
    by_account: dict[str, AccountPnl]
    by_bot: dict[str, AccountPnl]
