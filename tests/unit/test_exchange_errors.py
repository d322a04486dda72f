"""ccxt exceptions mapped onto our taxonomy, with ccxt's real exception classes."""

from __future__ import annotations

import pytest

from shared.errors import ExchangeAmbiguous, ExchangeOrderNotFound, ExchangeRejected, ExchangeTemporary
from shared.exchange.ccxt_adapter import ccxt_errors, exchange_class
from shared.exchange.errors import translate

ERRORS = ccxt_errors()


@pytest.mark.parametrize(
    ("name", "creating", "expected", "reason"),
    [
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
    ],
)
def test_translation(name: str, creating: bool, expected: type, reason: str | None) -> None:
    translated = translate(ERRORS, getattr(ERRORS, name)('binance {"code": -1, "msg": "x"}'), creating=creating)
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


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('kraken {"error":["EAPI:Invalid signature"]}', "authentication_failed"),
        ('kraken {"error":["EOrder:Cost minimum not met"]}', "invalid_order"),
        ('kraken {"error":["EGeneral:Invalid arguments:volume"]}', "invalid_order"),
    ],
)
def test_definite_refusals_hidden_in_a_plain_exchange_error(text: str, reason: str) -> None:
    translated = translate(ERRORS, ERRORS.ExchangeError(text), creating=True)
    assert isinstance(translated, ExchangeRejected) and translated.reason == reason
    assert "kraken" not in str(translated.to_body())


def test_an_unrecognised_exchange_error_on_create_stays_ambiguous() -> None:
    translated = translate(ERRORS, ERRORS.ExchangeError('kraken {"error":["EService:Unavailable"]}'), creating=True)
    assert isinstance(translated, ExchangeAmbiguous)


# Each supported exchange's answer to a client order id already in use, raised by ccxt's own
# error handling for that exchange from the exchange's real body.
DUPLICATE_ANSWERS: dict[str, tuple[int, dict[str, object], str]] = {
    "binance": (400, {"code": -2010, "msg": "Duplicate order sent."}, "https://api.binance.com/api/v3/order"),
    "binanceus": (400, {"code": -2010, "msg": "Duplicate order sent."}, "https://api.binance.us/api/v3/order"),
    "okx": (
        200,
        {
            "code": "1",
            "msg": "All operations failed",
            "data": [{"clOrdId": "c1", "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId", "tag": ""}],
        },
        "https://www.okx.com/api/v5/trade/order",
    ),
    "bybit": (
        200,
        {"retCode": 110072, "retMsg": "OrderLinkedID is duplicate", "result": {}, "retExtInfo": {}, "time": 1},
        "https://api.bybit.com/v5/order/create",
    ),
    "kraken": (200, {"error": ["EOrder:Duplicate order"]}, "https://api.kraken.com/0/private/AddOrder"),
    "kucoin": (200, {"code": "400100", "msg": "clientOid duplicated"}, "https://api.kucoin.com/api/v1/hf/orders"),
}


def _raised_by_ccxt(exchange_id: str, status: int, body: dict[str, object], url: str) -> Exception:
    import json

    client = exchange_class(exchange_id)({})
    text = json.dumps(body)
    try:
        client.handle_errors(status, "", url, "POST", {}, text, body, {}, "")
    except Exception as exc:
        return exc
    raise AssertionError(f"ccxt raised nothing for {exchange_id}'s duplicate answer")


@pytest.mark.parametrize("exchange_id", sorted(DUPLICATE_ANSWERS))
def test_a_duplicate_client_id_answer_means_the_order_exists(exchange_id: str) -> None:
    """ccxt files these under InvalidOrder / BadRequest / ExchangeError; read as a rejection, a
    live order would be lost to tracking. On create they must go to lookup (ambiguous)."""
    exc = _raised_by_ccxt(exchange_id, *DUPLICATE_ANSWERS[exchange_id])
    translated = translate(ERRORS, exc, creating=True)
    assert isinstance(translated, ExchangeAmbiguous)
    assert translated.details == {"error": "duplicate_client_order_id"}
    assert "Duplicate" not in translated.message and "clOrdId" not in translated.message


def test_ccxt_s_own_duplicate_order_class_means_it_exists_too() -> None:
    translated = translate(ERRORS, ERRORS.DuplicateOrderId("coinbase duplicate"), creating=True)
    assert isinstance(translated, ExchangeAmbiguous)


def test_other_invalid_orders_stay_final_rejections() -> None:
    exc = _raised_by_ccxt(
        "binance", 400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, "https://api.binance.com/api/v3/order"
    )
    translated = translate(ERRORS, exc, creating=True)
    assert isinstance(translated, ExchangeRejected) and translated.reason == "invalid_order"
