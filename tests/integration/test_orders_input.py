"""Bad input on POST /orders: a clear 4xx with the standard error shape, and nothing written
(no intent row in the Orders table, no trade task on the queue). Never a 5xx."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import Caller, LambdaApi, Reply, idempotency_header
from tests.support.aws import TestCloud
from tests.support.trading import TradingRig, orders_api_for

GHOST_ACCOUNT = "acct_01jd0000000000000000000000"
VALID: dict[str, Any] = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"}


def _order(**changes: Any) -> dict[str, Any]:
    body = dict(VALID)
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _raw(**changes: Any) -> str:
    return json.dumps(_order(**changes))


def _order_rows(tenant_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").query(
        TableName=os.environ["ORDERS_TABLE"],
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant_id}},
        ConsistentRead=True,
    )["Items"]
    return items


def _queued() -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["TRADE_TASKS_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def orders_a(tenant_a: Caller) -> LambdaApi:
    return orders_api_for(tenant_a)


@pytest.fixture
def rig(test_cloud: TestCloud) -> Iterator[TradingRig]:
    trading = TradingRig(test_cloud)
    yield trading
    trading.drain()  # leave no trade task of ours behind for other tests


def _assert_rejected_and_nothing_written(
    reply: Reply, status: int, code: str, tenant_id: str, queued_before: int
) -> None:
    assert reply.status == status, reply.text
    body = reply.json
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, reply.text
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert _order_rows(tenant_id) == []
    assert _queued() == queued_before


# ---------------------------------------------------------------- the control case


def test_a_valid_order_is_written_and_queued(orders_a: LambdaApi, tenant_a: Caller, rig: TradingRig) -> None:
    """Shows the 'nothing written' checks below would notice a write."""
    rig.drain()
    before = _queued()
    reply = orders_a.post("/orders", body=VALID, headers=idempotency_header())
    assert reply.status == 202, reply.text
    assert [row["order_id"]["S"] for row in _order_rows(tenant_a.tenant_id)] == [reply.json["id"]]
    assert _queued() == before + 1


# ---------------------------------------------------------------- numbers


def _with(field: str, literal: str, **changes: Any) -> str:
    """A body whose `field` is the raw JSON `literal` (NaN and Infinity are not JSON)."""
    return _raw(**changes, **{field: "@@"}).replace('"@@"', literal)


NUMBER_CASES: dict[str, tuple[str, str]] = {
    # case: (raw body, field named in the error)
    "string_nan": (_with("amount", '"NaN"'), "amount"),
    "string_infinity": (_with("amount", '"Infinity"'), "amount"),
    "negative": (_with("amount", "-0.001"), "amount"),
    "negative_string": (_with("amount", '"-0.001"'), "amount"),
    "zero": (_with("amount", "0"), "amount"),
    "zero_string": (_with("amount", '"0.000"'), "amount"),
    "huge_float": (_with("amount", "1e400"), "amount"),
    "huge_int": (_with("amount", "1" + "0" * 40), "amount"),
    "too_many_digits": (_with("amount", '"1234567890123.5"'), "amount"),
    "not_a_number": (_with("amount", '"lots"'), "amount"),
    "bool": (_with("amount", "true"), "amount"),
    "price_negative": (_with("price", "-60000", type="limit"), "price"),
    "take_profit_zero": (_with("take_profit", "0"), "take_profit"),
}


@pytest.mark.parametrize("case", sorted(NUMBER_CASES))
def test_bad_numbers_are_422_and_write_nothing(orders_a: LambdaApi, tenant_a: Caller, case: str) -> None:
    raw, field = NUMBER_CASES[case]
    before = _queued()
    reply = orders_a.post("/orders", raw_body=raw, headers=idempotency_header())
    _assert_rejected_and_nothing_written(reply, 422, "validation_error", tenant_a.tenant_id, before)
    assert f"body.{field}" in [f["field"] for f in reply.json["error"]["details"]["fields"]], reply.text


# ---------------------------------------------------------------- market rules and consistency

MARKET_RULE_CASES: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    # (case, body, field, expected extra details)
    ("too_many_decimals", _order(amount="0.000011"), "amount", {"amount_step": "0.00001"}),
    ("off_step_tiny", _order(amount="0.000005"), "amount", {"amount_step": "0.00001"}),
    ("below_min_cost_market", _order(amount="0.00001"), "amount", {"min_cost": "5"}),
    ("below_min_cost_limit", _order(type="limit", amount="0.001", price="1000"), "amount", {"min_cost": "5"}),
    ("price_off_step", _order(type="limit", amount="0.001", price="60000.001"), "price", {"price_step": "0.01"}),
    ("stop_loss_off_step", _order(stop_loss="50000.005"), "stop_loss", {"price_step": "0.01"}),
    ("unknown_symbol", _order(symbol="FOO/USDT"), "symbol", {}),
    ("derivative_symbol", _order(symbol="BTC/USDT:USDT"), "symbol", {}),
]


@pytest.mark.parametrize("case,body,field,extra", MARKET_RULE_CASES, ids=[c[0] for c in MARKET_RULE_CASES])
def test_market_rules_are_422_with_the_field_and_write_nothing(
    orders_a: LambdaApi, tenant_a: Caller, case: str, body: dict[str, Any], field: str, extra: dict[str, str]
) -> None:
    before = _queued()
    reply = orders_a.post("/orders", body=body, headers=idempotency_header())
    _assert_rejected_and_nothing_written(reply, 422, "validation_error", tenant_a.tenant_id, before)
    details = reply.json["error"]["details"]
    assert [f["field"] for f in details["fields"]] == [f"body.{field}"]
    assert details["fields"][0]["type"] == "market_rule"
    for name, value in extra.items():
        assert Decimal(details[name]) == Decimal(value), details


def test_amount_below_the_market_minimum_is_422(
    orders_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every shipped market's minimum equals its step, so a multiple of the step is never below
    it; a market whose minimum is ten steps shows the rule."""
    from dataclasses import replace

    from shared.exchange import paper

    markets = dict(paper.paper_markets())
    markets["BTC/USDT"] = replace(markets["BTC/USDT"], min_amount=Decimal("0.0001"))
    monkeypatch.setattr(paper, "paper_markets", lambda: markets)
    before = _queued()
    reply = orders_a.post(
        "/orders", body=_order(amount="0.00009"), headers=idempotency_header()
    )  # a multiple of 0.00001
    _assert_rejected_and_nothing_written(reply, 422, "validation_error", tenant_a.tenant_id, before)
    details = reply.json["error"]["details"]
    assert [f["field"] for f in details["fields"]] == ["body.amount"]
    assert Decimal(details["min_amount"]) == Decimal("0.0001")


SHAPE_CASES: list[tuple[str, str, str]] = [
    # (case, raw body, field named in the error)
    ("limit_without_price", _raw(type="limit"), "body"),
    ("market_with_price", _raw(price="60000"), "body"),
    ("buy_stop_loss_above_price", _raw(type="limit", price="60000", stop_loss="61000"), "body"),
    ("buy_stop_loss_at_price", _raw(type="limit", price="60000", stop_loss="60000"), "body"),
    ("buy_take_profit_below_price", _raw(type="limit", price="60000", take_profit="59000"), "body"),
    ("sell_stop_loss_below_price", _raw(side="sell", type="limit", price="60000", stop_loss="59000"), "body"),
    ("sell_take_profit_above_price", _raw(side="sell", type="limit", price="60000", take_profit="61000"), "body"),
    ("unknown_field", _raw(leverage=10), "body.leverage"),
    ("tenant_id_field", _raw(tenant_id="ten_someoneelse"), "body.tenant_id"),
    ("status_field", _raw(status="FILLED"), "body.status"),
    ("bad_side", _raw(side="short"), "body.side"),
    ("bad_type", _raw(type="stop"), "body.type"),
    ("lowercase_symbol", _raw(symbol="btc/usdt"), "body.symbol"),
    ("dashed_symbol", _raw(symbol="BTC-USDT"), "body.symbol"),
    ("missing_amount", json.dumps({k: v for k, v in VALID.items() if k != "amount"}), "body.amount"),
    ("missing_symbol", json.dumps({k: v for k, v in VALID.items() if k != "symbol"}), "body.symbol"),
    ("bad_account_id", _raw(exchange_account_id="acct_short"), "body.exchange_account_id"),
    ("not_an_object", '["BTC/USDT", "buy"]', "body"),
]


@pytest.mark.parametrize("case,raw,field", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_inconsistent_or_unknown_fields_are_422(
    orders_a: LambdaApi, tenant_a: Caller, case: str, raw: str, field: str
) -> None:
    before = _queued()
    reply = orders_a.post("/orders", raw_body=raw, headers=idempotency_header())
    _assert_rejected_and_nothing_written(reply, 422, "validation_error", tenant_a.tenant_id, before)
    assert field in [f["field"] for f in reply.json["error"]["details"]["fields"]], reply.text


@pytest.mark.parametrize(
    "changes",
    [
        {"side": "buy", "stop_loss": "1000000.00"},  # a buy's stop far above the market
        {"side": "buy", "take_profit": "1.00"},  # a buy's target far below the market
        {"side": "sell", "stop_loss": "1.00"},  # a sell's stop far below the market
    ],
    ids=["buy_stop_loss_above_market", "buy_take_profit_below_market", "sell_stop_loss_below_market"],
)
def test_market_order_protective_prices_are_checked_against_the_last_price(
    orders_a: LambdaApi, tenant_a: Caller, rig: TradingRig, changes: dict[str, str]
) -> None:
    before = _queued()
    reply = orders_a.post("/orders", body=_order(**changes), headers=idempotency_header())
    _assert_rejected_and_nothing_written(reply, 422, "validation_error", tenant_a.tenant_id, before)


def test_unknown_exchange_account_is_404(orders_a: LambdaApi, tenant_a: Caller) -> None:
    before = _queued()
    reply = orders_a.post("/orders", body=_order(exchange_account_id=GHOST_ACCOUNT), headers=idempotency_header())
    _assert_rejected_and_nothing_written(reply, 404, "exchange_account_not_found", tenant_a.tenant_id, before)
    assert reply.json["error"]["details"] == {"exchange_account_id": GHOST_ACCOUNT}


@pytest.mark.parametrize(
    "headers,code",
    [
        ({}, "idempotency_key_required"),
        ({"Idempotency-Key": "has spaces in it"}, "idempotency_key_invalid"),
        ({"Idempotency-Key": "k" * 256}, "idempotency_key_invalid"),
    ],
    ids=["missing", "spaces", "too_long"],
)
def test_missing_or_bad_idempotency_key_is_400(
    orders_a: LambdaApi, tenant_a: Caller, headers: dict[str, str], code: str
) -> None:
    before = _queued()
    reply = orders_a.post("/orders", body=VALID, headers=headers)
    _assert_rejected_and_nothing_written(reply, 400, code, tenant_a.tenant_id, before)


@pytest.mark.parametrize(
    "raw",
    [
        '{"symbol": "BTC/USDT",',
        # NaN and Infinity are not JSON: the strict parser refuses them before validation.
        _with("amount", "NaN"),
        _with("amount", "Infinity"),
        _with("amount", "-Infinity"),
        _with("price", "NaN", type="limit"),
        _with("price", "Infinity", type="limit"),
        _with("stop_loss", "Infinity"),
        _with("stop_loss", "NaN"),
    ],
)
def test_malformed_json_is_400(orders_a: LambdaApi, tenant_a: Caller, raw: str) -> None:
    before = _queued()
    reply = orders_a.post("/orders", raw_body=raw, headers=idempotency_header())
    _assert_rejected_and_nothing_written(reply, 400, "malformed_json", tenant_a.tenant_id, before)


def test_a_rejected_request_does_not_use_up_its_idempotency_key(
    orders_a: LambdaApi, tenant_a: Caller, rig: TradingRig
) -> None:
    key = idempotency_header()
    rejected = orders_a.post("/orders", body=_order(amount="0.000011"), headers=key)
    assert rejected.status == 422 and _order_rows(tenant_a.tenant_id) == []
    accepted = orders_a.post("/orders", body=VALID, headers=key)
    assert accepted.status == 202, accepted.text
    assert len(_order_rows(tenant_a.tenant_id)) == 1


# ---------------------------------------------------------------- property: never a 5xx

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
numbers = (
    json_values
    | st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str)
    | st.sampled_from(
        [
            "0.001",
            "0.00001",
            "0.000011",
            "1e-5",
            "1E+3",
            "999999999999",
            "60000.00",
            "0.000000000000000001",
            "-0.001",
            "1e400",
            "12345678901234567890.5",
        ]
    )
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "exchange_account_id": json_values | st.sampled_from(["paper", GHOST_ACCOUNT, "acct_", "PAPER"]),
        "symbol": json_values
        | st.sampled_from(["BTC/USDT", "ETH/USDT", "ETH/BTC", "FOO/USDT", "BTC/USDT:USDT", "DOGE/USDT"]),
        "side": json_values | st.sampled_from(["buy", "sell"]),
        "type": json_values | st.sampled_from(["market", "limit"]),
        "amount": numbers,
        "price": numbers,
        "stop_loss": numbers,
        "take_profit": numbers,
        "extra": json_values,
    },
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=order_like)
def test_no_body_a_client_can_send_produces_a_5xx(orders_a: LambdaApi, rig: TradingRig, body: dict[str, Any]) -> None:
    """Sharing one tenant across examples is sound: each example sends a fresh Idempotency-Key
    (so no earlier intent can be matched), the API keeps no per-tenant order quota (risk limits
    are the worker's, and this test never runs the worker), and each example judges only its own
    answer's status class and error shape."""
    reply = orders_a.post("/orders", raw_body=json.dumps(body), headers=idempotency_header())
    assert reply.status < 500, (body, reply.text)
    assert reply.status in (202, 400, 404, 422), reply.text
    if reply.status != 202:
        assert set(reply.json["error"]) == {"code", "message", "details"}
