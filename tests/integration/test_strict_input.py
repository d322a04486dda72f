"""Strict input through the handlers: no type coercion in request bodies (money excepted, as
documented), one strict JSON parser with a 415 for non-JSON bodies, and one rule for names."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest

from tests.support.api import Caller, LambdaApi, Reply, build_event, idempotency_header, invoke
from tests.support.backtests import backtest_body
from tests.support.payloads import bot
from tests.support.trading import exchange_api_for, orders_api_for

ORDER: dict[str, Any] = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"}


def _refused(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.text
    assert reply.error_code == code, reply.text


@pytest.fixture
def orders_a(tenant_a: Caller) -> LambdaApi:
    return orders_api_for(tenant_a)


@pytest.fixture
def backtests_a(tenant_a: Caller) -> LambdaApi:
    from functions.backtests_api.app import lambda_handler

    return LambdaApi(lambda_handler, tenant_a)


# ---------------------------------------------------------------- 1. strict types


@pytest.mark.parametrize("value", [True, "2", 2.0, "\u0662"])
def test_an_integer_field_takes_only_an_integer(bots_a: LambdaApi, value: Any) -> None:
    body = bot()
    body["risk"]["max_open_orders"] = value
    reply = bots_a.post("/bots", body=body, headers=idempotency_header())
    _refused(reply, 422, "validation_error")
    assert reply.json["error"]["details"]["fields"][0]["field"] == "body.risk.max_open_orders"
    assert bots_a.get("/bots").json["items"] == []


@pytest.mark.parametrize("value", [0, 1, "off", "yes", "true", None])
def test_a_boolean_field_takes_only_true_or_false(orders_a: LambdaApi, value: Any) -> None:
    _refused(orders_a.post("/risk/kill-switch", body={"engaged": value}), 422, "validation_error")
    assert orders_a.get("/risk/settings").json["kill_switch"] is False
    assert orders_a.post("/risk/kill-switch", body={"engaged": False}).json["kill_switch"] is False


@pytest.mark.parametrize(
    "value",
    [
        True,
        "\u0661\u0660\u0660\u0660",
        "\uff11\uff10\uff10\uff10",
        " 1000",
        "1_000",
        "0x10",
        "",
        [1000],
        "1234567890123",
        "1e3",
        "8E+4",
        "-5",
        "+5",
        ".5",
    ],
)
def test_money_refuses_booleans_and_anything_but_ascii_decimal_text(bots_a: LambdaApi, value: Any) -> None:
    body = bot()
    body["risk"]["max_position_notional"] = value
    _refused(bots_a.post("/bots", body=body, headers=idempotency_header()), 422, "validation_error")


@pytest.mark.parametrize("value,stored", [(1000, "1000"), ("1000.50", "1000.5"), (2.5e3, "2500"), ("0.5", "0.5")])
def test_money_still_takes_a_number_or_a_decimal_string(bots_a: LambdaApi, value: Any, stored: str) -> None:
    body = bot()
    body["risk"]["max_position_notional"] = value
    reply = bots_a.post("/bots", body=body, headers=idempotency_header())
    assert reply.status == 201, reply.text
    assert reply.json["risk"]["max_position_notional"] == stored


@pytest.mark.parametrize("value", [True, "\u0661", "0.001 ", "+-1"])
def test_order_amounts_are_strict_too(orders_a: LambdaApi, value: Any) -> None:
    _refused(
        orders_a.post("/orders", body={**ORDER, "amount": value}, headers=idempotency_header()), 422, "validation_error"
    )


def test_exchange_account_flags_take_only_booleans(tenant_a: Caller) -> None:
    body = {"exchange": "binance", "label": "main", "api_key": "k" * 16, "secret": "s" * 16, "sandbox": "yes"}
    reply = exchange_api_for(tenant_a).post("/exchange-accounts", body=body)
    _refused(reply, 422, "validation_error")
    assert "s" * 16 not in reply.text


@pytest.mark.parametrize("change", [{"seed": True}, {"seed": "7"}])
def test_backtest_numbers_are_strict(backtests_a: LambdaApi, change: dict[str, Any]) -> None:
    body = backtest_body()
    body["data_source"] = {"type": "synthetic", **change}
    _refused(backtests_a.post("/backtests", body=body, headers=idempotency_header()), 422, "validation_error")


def test_backtest_timestamps_are_iso_text_not_numbers(backtests_a: LambdaApi) -> None:
    _refused(
        backtests_a.post("/backtests", body=backtest_body(start=1700000000), headers=idempotency_header()),
        422,
        "validation_error",
    )
    assert backtests_a.post("/backtests", body=backtest_body(), headers=idempotency_header()).status == 202


# ---------------------------------------------------------------- 2. request bodies


@pytest.mark.parametrize(
    "raw,why",
    [
        ('{"name": "a", "name": "b"}', "duplicate key 'name'"),
        ('\ufeff{"name": "a"}', "byte order mark"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nested deeper"),
        ('{"risk": {"max_open_orders": ' + "9" * 5000 + "}}", "number longer"),
        ('{"risk": {"max_open_orders": NaN}}', "NaN is not"),
        ('{"name": "\\ud800"}', "surrogate"),
        ('{"name": ', "Expecting value"),
    ],
)
def test_malformed_bodies_are_400_malformed_json_saying_why(bots_a: LambdaApi, raw: str, why: str) -> None:
    reply = bots_a.post("/bots", raw_body=raw, headers=idempotency_header())
    _refused(reply, 400, "malformed_json")
    assert why in reply.json["error"]["message"]


def test_invalid_utf8_is_400_malformed_json(bots_handler: Any, tenant_a: Caller) -> None:
    event = build_event("POST", "/bots", raw_body="", headers=idempotency_header(), caller=tenant_a)
    event["body"] = base64.b64encode(json.dumps(bot()).encode()[:-2] + b'\xff"}').decode()
    event["isBase64Encoded"] = True
    reply = invoke(bots_handler, event)
    _refused(reply, 400, "malformed_json")
    assert "UTF-8" in reply.json["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
def test_a_body_that_is_not_declared_json_is_415(bots_a: LambdaApi, content_type: str) -> None:
    reply = bots_a.post(
        "/bots", raw_body=json.dumps(bot()), headers={**idempotency_header(), "Content-Type": content_type}
    )
    _refused(reply, 415, "unsupported_media_type")
    assert bots_a.get("/bots").json["items"] == []


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
)
def test_json_media_types_with_parameters_or_suffixes_are_accepted(bots_a: LambdaApi, content_type: str) -> None:
    reply = bots_a.post(
        "/bots", raw_body=json.dumps(bot()), headers={**idempotency_header(), "Content-Type": content_type}
    )
    assert reply.status == 201, reply.text


def test_an_endpoint_without_a_body_ignores_content_type(bots_a: LambdaApi) -> None:
    bot_id = bots_a.post("/bots", body=bot(), headers=idempotency_header()).json["id"]
    started = bots_a.post(f"/bots/{bot_id}/start", headers={"Content-Type": "text/plain"})
    assert started.status == 200, started.text


# ---------------------------------------------------------------- 3. names and labels


@pytest.mark.parametrize(
    "name",
    [
        "evil\u202ename",
        "a\u2066b",
        "tab\there",
        "new\nline",
        "nul\x00",
        "del\x7f",
        "\u200b\u200b",
        "\u3164",
        " \u00a0 ",
        "",
        "x" * 65,
        "next\u2028line",
    ],
)
def test_names_refuse_control_bidi_and_invisible_text(
    bots_a: LambdaApi, tenant_a: Caller, auth_handler: Any, name: str
) -> None:
    _refused(bots_a.post("/bots", body=bot(name=name), headers=idempotency_header()), 422, "validation_error")
    _refused(LambdaApi(auth_handler, tenant_a).post("/api-keys", body={"name": name}), 422, "validation_error")
    label = {"exchange": "binance", "label": name, "api_key": "k" * 16, "secret": "s" * 16}
    _refused(exchange_api_for(tenant_a).post("/exchange-accounts", body=label), 422, "validation_error")
    signup = {
        "email": f"n-{secrets.token_hex(4)}@example.com",
        "password": "correct horse battery",
        "tenant_name": name,
    }
    _refused(LambdaApi(auth_handler).post("/auth/signup", body=signup), 422, "validation_error")


def test_names_are_trimmed_and_nfc_normalized(bots_a: LambdaApi) -> None:
    reply = bots_a.post(
        "/bots", body=bot(name="  cafe\u0301 \u0645\u0631\u062d\u0628\u0627 "), headers=idempotency_header()
    )
    assert reply.status == 201, reply.text
    assert reply.json["name"] == "caf\u00e9 \u0645\u0631\u062d\u0628\u0627"
    assert bots_a.post("/bots", body=bot(name="x" * 64), headers=idempotency_header()).status == 201


def test_dataset_names_follow_the_same_rule(backtests_a: LambdaApi) -> None:
    reply = backtests_a.post(
        "/market-data?name=%E2%80%AEevil&symbol=BTC/USDT", raw_body="x", headers={"Content-Type": "text/csv"}
    )
    _refused(reply, 422, "validation_error")
