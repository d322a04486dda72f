"""Seeds the demo tenant: an owner login, an API key, and a running paper-trading bot that trades
by itself (the scheduler ticks it every minute).

Imports `shared` lazily: the cloud must set the environment before any model is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_EMAIL = "demo@cryptoorchestrator.local"
DEMO_PASSWORD = "demo-password-123"


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    email: str
    password: str
    api_key: str
    bot_id: str


def seed_demo() -> DemoTenant:
    from localcloud.functions import FakeLambdaContext
    from shared.auth import service as auth
    from shared.auth.principal import ALL_SCOPES, Principal
    from shared.auth.schemas import ApiKeyCreate, SignupRequest
    from shared.bots import service as bots
    from shared.bots.lifecycle import BotAction
    from shared.bots.schemas import BotCreate
    from shared.idempotency import register_lambda_context

    register_lambda_context(FakeLambdaContext("localcloud-seed", 128, 60))  # type: ignore[arg-type]

    signed_up = auth.signup(
        SignupRequest(email=DEMO_EMAIL, password=DEMO_PASSWORD, tenant_name="Demo"), client_ip="127.0.0.1"
    )
    owner = Principal(
        tenant_id=signed_up.tenant.id, principal_id=f"user:{signed_up.user.id}", scopes=frozenset(ALL_SCOPES)
    )
    key = auth.create_api_key(owner, ApiKeyCreate(name="demo", scopes=["read", "trade", "admin"]))
    bot = bots.create_bot(
        owner,
        BotCreate.model_validate(
            {
                # A 1-minute DCA bot: its first tick (the scheduler's first run) buys its base order at
                # market, so the demo trades within a minute of `make dev`; its take profit and safety
                # orders are tight enough for the synthetic market to fill them within the hour.
                "name": "demo btc dca",
                "exchange_account_id": "paper",
                "symbol": "BTC/USDT",
                "strategy": {
                    "type": "dca",
                    "params": {
                        "interval": "1m",
                        "order_notional": "100",
                        "price_deviation_pct": "0.3",
                        "take_profit_pct": "0.3",
                        "max_safety_orders": 4,
                    },
                },
                "risk": {"max_position_notional": 1000, "max_daily_loss": 100, "max_open_orders": 3},
            }
        ),
        idempotency_key="seed-demo-bot",
    )
    bots.change_status(owner, bot.id, BotAction.START)
    return DemoTenant(signed_up.tenant.id, DEMO_EMAIL, DEMO_PASSWORD, key.key, bot.id)
