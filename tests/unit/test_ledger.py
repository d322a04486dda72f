"""Average-cost position accounting (shared.positions.ledger.apply)."""

from __future__ import annotations

from decimal import Decimal as D

from shared.positions.ledger import PositionState, apply

FLAT = PositionState(D(0), D(0), D(0), D(0))


def test_buys_average_their_prices_and_fees_are_realized_costs() -> None:
    state, realized = apply(FLAT, "buy", D("1"), D("100"), D("0.1"))
    assert state == PositionState(D("1"), D("100"), D("-0.1"), D("0.1"))
    assert realized == D("-0.1")
    state, _ = apply(state, "buy", D("3"), D("200"), D("0"))
    assert state.quantity == D("4") and state.average_entry == D("175")


def test_selling_part_realizes_pnl_on_that_part_only() -> None:
    long, _ = apply(FLAT, "buy", D("2"), D("100"), D("0"))
    after, realized = apply(long, "sell", D("0.5"), D("120"), D("0.06"))
    assert realized == D("10") - D("0.06")
    assert after.quantity == D("1.5") and after.average_entry == D("100")
    assert after.realized_pnl == realized


def test_closing_flat_resets_the_average() -> None:
    long, _ = apply(FLAT, "buy", D("1"), D("100"), D("0"))
    flat, realized = apply(long, "sell", D("1"), D("90"), D("0"))
    assert flat.quantity == 0 and flat.average_entry == 0 and realized == D("-10")


def test_flipping_through_zero_opens_the_rest_at_the_fill_price() -> None:
    long, _ = apply(FLAT, "buy", D("1"), D("100"), D("0"))
    short, realized = apply(long, "sell", D("3"), D("110"), D("0"))
    assert realized == D("10")
    assert short.quantity == D("-2") and short.average_entry == D("110")
    covered, realized = apply(short, "buy", D("2"), D("100"), D("0"))
    assert realized == D("20") and covered.quantity == 0
