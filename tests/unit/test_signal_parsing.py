"""Reading signals in every accepted format, and the target-position arithmetic (both pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.exchange.protocol import Market
from shared.signals.parsing import SignalAmount, SignalFormatError, Target, parse_signal, symbol_matches
from shared.signals.targets import plan_order, wanted_position

THREE_COMMAS = {
    "secret": "sigsec_abc",
    "max_lag": "300",
    "timestamp": "2026-01-02T03:04:05Z",
    "trigger_price": "65000.5",
    "tv_exchange": "BINANCE",
    "tv_instrument": "BTCUSDT",
    "action": "enter_long",
    "bot_uuid": "uuid",
    "strategy_info": {
        "market_position": "long",
        "market_position_size": "0.5",
        "prev_market_position": "flat",
        "prev_market_position_size": "0",
    },
    "order": {"amount": "0.5", "currency_type": "base"},
}


def test_three_commas_json() -> None:
    signal = parse_signal(json.dumps(THREE_COMMAS).encode(), "application/json")
    assert signal.format == "3commas"
    assert signal.action == "enter_long"
    assert (signal.symbol, signal.exchange) == ("BTCUSDT", "BINANCE")
    assert signal.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert signal.max_lag_seconds == 300
    assert signal.price == Decimal("65000.5")
    assert signal.amount == SignalAmount(Decimal("0.5"), "base")
    assert signal.target == Target("long", Decimal("0.5"))
    assert signal.secret == "sigsec_abc"


def test_tradingview_placeholder_json() -> None:
    body = {
        "secret": "s",
        "ticker": "BINANCE:ETHUSDT",
        "action": "sell",
        "contracts": "2",
        "market_position": "flat",
        "market_position_size": "0",
        "time": "2026-01-02T03:04:05Z",
        "close": 3000,
    }
    signal = parse_signal(json.dumps(body).encode(), "text/plain")  # TradingView labels JSON text/plain
    assert signal.format == "tradingview"
    assert signal.action == "exit_long"
    assert signal.target == Target("flat", Decimal(0))
    assert signal.amount == SignalAmount(Decimal(2), "base")


@pytest.mark.parametrize(
    "text",
    [
        "SECRET=s;SYMBOL=BTCUSDT;SIGNAL=BUY;VOLUME=10%",
        "SECRET=s\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nVOLUME=10%\n",
        "secret = s ; symbol = BTCUSDT ; signal = buy ; volume = 10%",
    ],
)
def test_text_pairs(text: str) -> None:
    signal = parse_signal(text.encode(), "text/plain")
    assert (signal.format, signal.action, signal.symbol) == ("text", "enter_long", "BTCUSDT")
    assert signal.amount == SignalAmount(Decimal(10), "percent")
    assert signal.secret == "s"


def test_the_secret_is_not_in_the_public_fields_or_the_repr() -> None:
    signal = parse_signal(json.dumps(THREE_COMMAS).encode())
    assert "sigsec_abc" not in json.dumps(signal.public_fields())
    assert "sigsec_abc" not in repr(signal)


@pytest.mark.parametrize(
    ("text", "action", "target"),
    [
        ("SIGNAL=close", "exit_long", Target("flat", Decimal(0))),
        ("SIGNAL=buy;POSITION=flat", "exit_short", Target("flat", Decimal(0))),
        ("SIGNAL=sell;POSITION=short;POSITION_SIZE=1", "enter_short", Target("short", Decimal(1))),
        ("SIGNAL=buy;POSITION_SIZE=0.25", "enter_long", Target("long", Decimal("0.25"))),
        ("SIGNAL=exit_short", "exit_short", None),
    ],
)
def test_actions_and_targets(text: str, action: str, target: Target | None) -> None:
    signal = parse_signal(text.encode())
    assert (signal.action, signal.target) == (action, target)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "malformed_signal"),
        (b"{not json", "malformed_signal"),
        (b"[1, 2]", "malformed_signal"),
        (b"just words", "malformed_signal"),
        (b"\xff\xfe", "malformed_signal"),
        (b"SIGNAL=moon", "unknown_action"),
        (b"SYMBOL=BTCUSDT", "unknown_action"),
        (b'{"action": "buy", "ticker": "{{ticker}}"}', "unresolved_placeholder"),
        (b"SIGNAL=buy;VOLUME=-1", "malformed_signal"),
        (b"SIGNAL=buy;VOLUME=150%", "malformed_signal"),
        (b"SIGNAL=buy;VOLUME=NaN", "malformed_signal"),
        (b"SIGNAL=buy;TIME=yesterday", "malformed_signal"),
        (b"SIGNAL=buy;POSITION=sideways", "malformed_signal"),
        (b"SIGNAL=enter_long;POSITION=short;POSITION_SIZE=1", "inconsistent_signal"),
        (b'{"action": "buy", "order": {"amount": "1", "currency_type": "lots"}}', "malformed_signal"),
        (b'{"action": {"nested": 1}}', "malformed_signal"),
    ],
)
def test_malformed_signals_say_why(body: bytes, code: str) -> None:
    with pytest.raises(SignalFormatError) as raised:
        parse_signal(body)
    assert raised.value.code == code


@pytest.mark.parametrize("value", ["1767323045", "1767323045000", 1767323045])
def test_unix_timestamps_in_seconds_or_milliseconds(value: Any) -> None:
    signal = parse_signal(json.dumps({"action": "buy", "timestamp": value}).encode())
    assert signal.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "bot", "matches"),
    [
        ("BTCUSDT", "BTC/USDT", True),
        ("BINANCE:BTCUSDT", "BTC/USDT", True),
        ("btc-usdt", "BTC/USDT", True),
        ("BTC/USDT", "BTC/USDT", True),
        ("ETHUSDT", "BTC/USDT", False),
        ("BTCUSDT.P", "BTC/USDT", False),  # a perpetual is not the spot market
        ("BYBIT:BTCUSDT.P", "BTC/USDT:USDT", True),
        ("BTCUSDT", "BTC/USDT:USDT", True),
    ],
)
def test_symbols_are_normalized(sent: str, bot: str, matches: bool) -> None:
    assert symbol_matches(sent, bot) is matches


# ------------------------------------------------------------------ targets

MARKET = Market(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    amount_step=Decimal("0.001"),
    price_step=Decimal("0.01"),
    min_amount=Decimal("0.001"),
    max_amount=None,
    min_cost=Decimal(5),
)
PRICE = Decimal(50_000)
FULL = Decimal(100)  # a full position is 100 USDT = 0.002 BTC


def _fields(text: str) -> dict[str, Any]:
    return parse_signal(text.encode()).public_fields()


def _plan(text: str, *, held: Decimal, pending: Decimal) -> Any:
    """The order a signal plans on the test market (spot, a full position worth FULL)."""
    return plan_order(
        _fields(text), held=held, pending=pending, price=PRICE, full_notional=FULL, market=MARKET, derivatives=False
    )


@pytest.mark.parametrize(
    ("text", "working", "wanted"),
    [
        ("SIGNAL=buy", "0", "0.002"),  # no amount: the bot's full position
        ("SIGNAL=buy", "0.002", "0.004"),  # no target: adds
        ("SIGNAL=buy;VOLUME=0.01", "0", "0.01"),
        ("SIGNAL=buy;VOLUME=50%", "0", "0.001"),
        ("SIGNAL=sell", "0.004", "0"),  # exit without amount: everything
        ("SIGNAL=sell;VOLUME=0.001", "0.004", "0.003"),
        ("SIGNAL=sell", "0", "0"),
        ("SIGNAL=buy;POSITION=long;POSITION_SIZE=0.003", "0.001", "0.003"),  # a lost alert heals
        ("SIGNAL=buy;POSITION=long;POSITION_SIZE=0.003", "0.003", "0.003"),  # a repeated one does nothing
        ("SIGNAL=buy;POSITION=long;POSITION_SIZE=0.003", "0.005", "0.003"),
        ("SIGNAL=sell;POSITION=flat", "0.005", "0"),
        ("SIGNAL=buy;POSITION=long", "0", "0.002"),  # long without a size: the bot's full position
    ],
)
def test_wanted_position_on_spot(text: str, working: str, wanted: str) -> None:
    assert wanted_position(_fields(text), Decimal(working), PRICE, FULL, derivatives=False) == Decimal(wanted)


def test_quote_amounts_convert_at_the_price() -> None:
    fields = parse_signal(json.dumps({"action": "buy", "order": {"amount": "150", "currency_type": "quote"}}).encode())
    assert wanted_position(fields.public_fields(), Decimal(0), PRICE, FULL, derivatives=False) == Decimal("0.003")


@pytest.mark.parametrize(
    ("text", "working", "wanted"),
    [
        ("SIGNAL=short", "0", "-0.002"),
        ("SIGNAL=sell;POSITION=short;POSITION_SIZE=1", "0.5", "-1"),
        ("SIGNAL=exit_short", "-1", "0"),
        ("SIGNAL=close", "-1", "0"),
    ],
)
def test_wanted_position_on_derivatives(text: str, working: str, wanted: str) -> None:
    assert wanted_position(_fields(text), Decimal(working), PRICE, FULL, derivatives=True) == Decimal(wanted)


def test_amounts_round_down_to_the_step() -> None:
    assert MARKET.amount_to_step(Decimal("0.0029999")) == Decimal("0.002")
    plan = _plan("SIGNAL=buy;VOLUME=0.0029999", held=Decimal(0), pending=Decimal(0))
    assert (plan.side, plan.amount) == ("buy", Decimal("0.002"))


def test_pending_orders_count_toward_the_working_position() -> None:
    plan = _plan("SIGNAL=buy;POSITION=long;POSITION_SIZE=0.003", held=Decimal(0), pending=Decimal("0.003"))
    assert (plan.side, plan.skipped) == (None, "at_target")


def test_a_spot_sell_never_exceeds_what_is_held() -> None:
    plan = _plan("SIGNAL=sell", held=Decimal("0.002"), pending=Decimal("0.003"))
    assert (plan.side, plan.amount) == ("sell", Decimal("0.002"))


def test_below_the_market_minimum_nothing_is_planned() -> None:
    plan = _plan("SIGNAL=buy;VOLUME=0.00005", held=Decimal(0), pending=Decimal(0))
    assert (plan.side, plan.skipped) == (None, "at_target")  # rounds down to nothing
    plan = plan_order(
        _fields("SIGNAL=buy;VOLUME=0.001"),
        held=Decimal(0),
        pending=Decimal(0),
        price=Decimal(1000),
        full_notional=FULL,
        market=MARKET,
        derivatives=False,
    )
    assert (plan.side, plan.skipped) == (None, "below_market_minimum")  # 1 USDT < min cost 5


def test_the_market_says_why_it_would_refuse_an_order() -> None:
    from dataclasses import replace

    assert MARKET.refusal(Decimal("0.002"), Decimal(65000)) is None
    below = MARKET.refusal(Decimal(0), Decimal(65000))
    assert below is not None and below.reason == "below_market_minimum"
    capped = replace(MARKET, max_amount=Decimal(1)).refusal(Decimal(2), Decimal(65000))
    assert capped is not None and capped.reason == "above_market_maximum"
    assert MARKET.price_to_step(Decimal("65000.015"), "buy") < MARKET.price_to_step(Decimal("65000.015"), "sell")
