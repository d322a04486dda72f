"""Signals endpoint family: TradingView / 3Commas-style alerts for signal bots.

Not behind the JWT/API-key authorizer (TradingView cannot send an Authorization header): each
request authenticates with the bot's signal secret (body `secret` / `SECRET=` or the
`X-Signal-Secret` header), and the tenant comes only from that secret's row.
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.signals.intake import receive_signal
from shared.web import create_app, make_lambda_handler

app = create_app(
    "CryptoOrchestrator signals",
    "Inbound TradingView / 3Commas-style signals for signal bots, authenticated by a per-bot secret.",
)

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "3Commas-style JSON, TradingView strategy-alert JSON, or `KEY=VALUE` text "
        "(lines or `;`-separated). At most 64 KB.",
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            "text/plain": {
                "schema": {"type": "string"},
                "example": "SECRET=sigsec_...;SYMBOL=BTCUSDT;SIGNAL=BUY;VOLUME=10%",
            },
        },
    }
}


class SignalAccepted(BaseModel):
    signal_id: str = Field(description="The signal's id (for a duplicate: the first signal's id).")
    status: str = Field(description="`accepted` (202) or `duplicate` (200, nothing queued).")


@app.post(
    "/signals/{bot_id}",
    status_code=202,
    tags=["signals"],
    openapi_extra=_BODY,
    responses={200: {"model": SignalAccepted, "description": "A duplicate of an earlier signal"}},
)
async def post_signal(
    bot_id: str,
    request: Request,
    x_signal_secret: Annotated[str | None, Header(alias="X-Signal-Secret", max_length=256)] = None,
) -> SignalAccepted:
    """Receive a signal for a bot; answers 202 with the signal id once it is recorded and queued."""
    body = await request.body()
    receipt = receive_signal(bot_id[:64], body, request.headers.get("content-type", ""), x_signal_secret)
    answer = SignalAccepted(signal_id=receipt.signal_id, status=receipt.status)
    return JSONResponse(status_code=receipt.http_status, content=answer.model_dump())  # type: ignore[return-value]


lambda_handler = make_lambda_handler(app)


init_phase.complete()
