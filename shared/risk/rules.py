"""The risk rules, as a pure function of what is known when an order is about to be sent.

Rules that cap exposure (open orders, position size, daily loss) apply only to orders that
increase the position: a bot past its limits must still be able to get out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.bots.limits import RiskLimits
from shared.money import decimal_text


@dataclass(frozen=True)
class Breach:
    rule: str
    message: str
    limit: str | None = None
    observed: str | None = None


@dataclass(frozen=True)
class RiskInput:
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    last_price: Decimal
    kill_switch: bool
    symbol_allowlist: list[str] | None
    max_price_deviation_pct: Decimal
    bot_limits: RiskLimits | None = None
    position_quantity: Decimal = Decimal(0)
    open_orders: int = 0
    realized_today: Decimal = Decimal(0)


def evaluate(risk: RiskInput) -> Breach | None:
    """The first rule the order breaks, or None."""
    if risk.kill_switch:
        return Breach("kill_switch", "the tenant's kill switch is engaged")
    if risk.symbol_allowlist is not None and risk.symbol not in risk.symbol_allowlist:
        return Breach("symbol_allowlist", f"{risk.symbol} is not in the allowed symbols")
    if risk.type == "limit" and risk.price is not None and risk.last_price > 0:
        deviation = abs(risk.price - risk.last_price) / risk.last_price * 100
        if deviation > risk.max_price_deviation_pct:
            return Breach(
                "price_deviation",
                "limit price too far from the last price",
                limit=f"{risk.max_price_deviation_pct}%",
                observed=f"{deviation.quantize(Decimal('0.01'))}%",
            )
    limits = risk.bot_limits
    if limits is None:
        return None
    signed = risk.amount if risk.side == "buy" else -risk.amount
    increases = abs(risk.position_quantity + signed) > abs(risk.position_quantity)
    if not increases:
        return None
    if risk.open_orders >= limits.max_open_orders:
        return Breach(
            "max_open_orders",
            "the bot already has its maximum of open orders",
            limit=str(limits.max_open_orders),
            observed=str(risk.open_orders),
        )
    if -risk.realized_today >= limits.max_daily_loss:
        return Breach(
            "max_daily_loss",
            "the bot reached its daily loss limit",
            limit=str(limits.max_daily_loss),
            observed=str(-risk.realized_today),
        )
    price = risk.price if risk.price is not None else risk.last_price
    notional = abs(risk.position_quantity + signed) * price
    if notional > limits.max_position_notional:
        return Breach(
            "max_position_notional",
            "the order would take the position above its limit",
            limit=str(limits.max_position_notional),
            observed=decimal_text(notional),
        )
    return None
