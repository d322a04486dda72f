"""ccxt exceptions mapped onto our taxonomy, with ccxt's real exception classes."""

from __future__ import annotations

import pytest

from shared.errors import ExchangeAmbiguous, ExchangeOrderNotFound, ExchangeRejected, ExchangeTemporary
from shared.exchange.ccxt_adapter import ccxt_errors, exchange_class
from shared.exchange.errors import translate

ERRORS = ccxt_errors()


@pytest.mark.parametrize(("name", "creating", "expected", "reason"), [
    ("RequestTimeout", True, ExchangeAmbiguous, None),
    ("ExchangeNotAvailable", True, ExchangeAmbiguous, None),
    ("BadResponse", True, ExchangeAmbiguous, None),
    ("NetworkError", True, ExchangeAmbiguous, None),
    ("ExchangeError", True, ExchangeAmbiguous, None),
    ("RequestTimeout", False, ExchangeTemporary, None),
    ("ExchangeNotAvailable", False, ExchangeTemporary, None),
    ("RateLimitExceeded", True, ExchangeTemporary, None),
    ("DDoSProtection", True, ExchangeTemporary, None),
    ("InvalidNonce", True, ExchangeTemporary, None),
    ("InsufficientFunds", True, ExchangeRejected, "insufficient_funds"),
    ("InvalidOrder", True, ExchangeRejected, "invalid_order"),
    ("BadSymbol", True, ExchangeRejected, "bad_symbol"),
    ("AuthenticationError", True, ExchangeRejected, "authentication_failed"),
    ("OrderNotFound", False, ExchangeOrderNotFound, None),
])
def test_translation(name: str, creating: bool, expected: type, reason: str | None) -> None:
    translated = translate(ERRORS, getattr(ERRORS, name)("binance {\"code\": -1, \"msg\": \"x\"}"), creating=creating)
    assert type(translated) is expected
    if reason is not None:
        assert isinstance(translated, ExchangeRejected) and translated.reason == reason


def test_translated_errors_carry_no_exchange_text() -> None:
    """ccxt messages can hold request URLs and headers; only the class name may pass."""
    leaky = ERRORS.RequestTimeout("binance GET https://api.binance.com/api/v3/order?signature=abc&apiKey=SECRET")
    translated = translate(ERRORS, leaky, creating=True)
    assert "SECRET" not in str(translated.to_body()) and "signature" not in str(translated.to_body())


def test_only_supported_exchanges_can_be_loaded() -> None:
    assert exchange_class("binance").__name__ == "binance"
    for name in ("base", "abstract", "notanexchange", "../os"):
        with pytest.raises(ValueError, match="unsupported"):
            exchange_class(name)


@pytest.mark.parametrize(("text", "reason"), [
    ('kraken {"error":["EAPI:Invalid signature"]}', "authentication_failed"),
    ('kraken {"error":["EOrder:Cost minimum not met"]}', "invalid_order"),
    ('kraken {"error":["EGeneral:Invalid arguments:volume"]}', "invalid_order"),
])
def test_definite_refusals_hidden_in_a_plain_exchange_error(text: str, reason: str) -> None:
    translated = translate(ERRORS, ERRORS.ExchangeError(text), creating=True)
    assert isinstance(translated, ExchangeRejected) and translated.reason == reason
    assert "kraken" not in str(translated.to_body())


def test_an_unrecognised_exchange_error_on_create_stays_ambiguous() -> None:
    translated = translate(ERRORS, ERRORS.ExchangeError('kraken {"error":["EService:Unavailable"]}'), creating=True)
    assert isinstance(translated, ExchangeAmbiguous)
