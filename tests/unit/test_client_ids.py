"""Deterministic order ids and per-exchange client order ids."""

from __future__ import annotations

import re
import uuid

import pytest

from shared.exchange.client_ids import client_order_id_for, intent_digest, order_id_for


def test_the_same_intent_always_gives_the_same_ids() -> None:
    a = intent_digest("ten_1", "manual", "key-1")
    assert a == intent_digest("ten_1", "manual", "key-1")
    assert order_id_for(a) == order_id_for(intent_digest("ten_1", "manual", "key-1"))
    assert client_order_id_for("binance", a) == client_order_id_for("binance", a)


@pytest.mark.parametrize(
    "other",
    [
        ("ten_2", "manual", "key-1"),
        ("ten_1", "bot_1", "key-1"),
        ("ten_1", "manual", "key-2"),
        ("ten_1manual", "", "key-1"),
    ],
)
def test_any_difference_in_the_intent_changes_the_ids(other: tuple[str, str, str]) -> None:
    base = intent_digest("ten_1", "manual", "key-1")
    assert order_id_for(intent_digest(*other)) != order_id_for(base)


def test_order_ids_fit_the_api_pattern() -> None:
    assert re.fullmatch(r"ord_[0-9a-z]{26}", order_id_for(intent_digest("t", "s", "i")))


@pytest.mark.parametrize("exchange", ["okx", "binance", "bybit", "kucoin"])
def test_client_ids_fit_every_exchanges_limits(exchange: str) -> None:
    cid = client_order_id_for(exchange, intent_digest("ten_1", "bot_1", "intent"))
    assert re.fullmatch(r"[A-Za-z0-9]{1,32}", cid), cid  # OKX's rule is the strictest


@pytest.mark.parametrize("exchange", ["kraken", "coinbase"])
def test_uuid_exchanges_get_a_uuid(exchange: str) -> None:
    cid = client_order_id_for(exchange, intent_digest("ten_1", "bot_1", "intent"))
    assert str(uuid.UUID(cid)) == cid
