"""Risk rules as a pure function (shared.risk.rules.evaluate)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from shared.bots.limits import RiskLimits
from shared.risk.rules import RiskInput, evaluate

LIMITS = RiskLimits(max_position_notional=D("1000"), max_daily_loss=D("100"), max_open_orders=2)
BASE = RiskInput(
    symbol="BTC/USDT",
    side="buy",
    type="limit",
    amount=D("0.01"),
    price=D("50000"),
    last_price=D("50000"),
    kill_switch=False,
    symbol_allowlist=None,
    max_price_deviation_pct=D("5"),
    bot_limits=LIMITS,
)


def test_a_harmless_order_passes() -> None:
    assert evaluate(BASE) is None


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"kill_switch": True}, "kill_switch"),
        ({"symbol_allowlist": ["ETH/USDT"]}, "symbol_allowlist"),
        ({"price": D("56000")}, "price_deviation"),
        ({"price": D("44000")}, "price_deviation"),
        ({"open_orders": 2}, "max_open_orders"),
        ({"amount": D("0.03")}, "max_position_notional"),
        ({"position_quantity": D("0.015")}, "max_position_notional"),
        ({"realized_today": D("-100")}, "max_daily_loss"),
    ],
)
def test_each_rule_names_itself(change: dict[str, object], rule: str) -> None:
    breach = evaluate(replace(BASE, **change))  # type: ignore[arg-type]
    assert breach is not None and breach.rule == rule


def test_deviation_within_the_limit_passes_and_market_orders_skip_it() -> None:
    assert evaluate(replace(BASE, price=D("52400"))) is None
    assert evaluate(replace(BASE, type="market", price=None, last_price=D("50000"))) is None


def test_reducing_orders_pass_exposure_rules() -> None:
    """A bot past its loss or size limit can still get out of its position."""
    reducing = replace(BASE, side="sell", position_quantity=D("0.05"), realized_today=D("-500"), open_orders=9)
    assert evaluate(reducing) is None
    increasing = replace(reducing, side="buy", open_orders=0)
    breach = evaluate(increasing)
    assert breach is not None and breach.rule == "max_daily_loss"


def test_manual_orders_have_no_bot_limits_but_tenant_rules_apply() -> None:
    manual = replace(BASE, bot_limits=None, open_orders=99, amount=D("100"))
    assert evaluate(manual) is None
    breach = evaluate(replace(manual, kill_switch=True))
    assert breach is not None and breach.rule == "kill_switch"
