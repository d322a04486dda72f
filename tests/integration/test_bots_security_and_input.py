"""Tenant isolation and hostile input on bots_api: clear 4xx, nothing written, never a 5xx."""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import Caller, LambdaApi, idempotency_header
from tests.support.payloads import bot


def _rows(tenant_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = boto3.client("dynamodb").query(
        TableName=os.environ["BOTS_TABLE"],
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant_id}},
    )["Items"]
    return rows


# ---------------------------------------------------------------- tenant isolation


def test_tenant_b_cannot_touch_tenant_a_bots(bots_a: LambdaApi, bots_b: LambdaApi, tenant_a: Caller) -> None:
    bot_id = bots_a.post("/bots", body=bot(), headers=idempotency_header()).json["id"]
    before = bots_a.get(f"/bots/{bot_id}").json
    attempts = [
        bots_b.get(f"/bots/{bot_id}"),
        bots_b.patch(f"/bots/{bot_id}", body={"name": "stolen"}),
        bots_b.post(f"/bots/{bot_id}/start"),
        bots_b.post(f"/bots/{bot_id}/stop"),
        bots_b.delete(f"/bots/{bot_id}"),
    ]
    ghost_id = "bot_01jd0000000000000000000000"
    never_existed = bots_b.get(f"/bots/{ghost_id}").text
    for reply in attempts:
        assert reply.status == 404, reply.text
        # Indistinguishable from a bot that does not exist.
        assert reply.text.replace(bot_id, ghost_id) == never_existed
    assert bots_b.get("/bots").json["items"] == []
    assert bots_a.get(f"/bots/{bot_id}").json == before


def test_tenant_id_in_body_is_rejected_and_in_headers_ignored(
    bots_a: LambdaApi, tenant_a: Caller, tenant_b: Caller
) -> None:
    smuggled = bots_a.post("/bots", body=bot(tenant_id=tenant_b.tenant_id), headers=idempotency_header())
    assert smuggled.status == 422
    assert _rows(tenant_b.tenant_id) == [] and _rows(tenant_a.tenant_id) == []

    headers = {**idempotency_header(), "X-Tenant-Id": tenant_b.tenant_id, "tenant_id": tenant_b.tenant_id}
    created = bots_a.post("/bots", body=bot(), headers=headers)
    assert created.status == 201
    assert len(_rows(tenant_a.tenant_id)) == 1 and _rows(tenant_b.tenant_id) == []
    listed = bots_a.get(f"/bots?tenant_id={tenant_b.tenant_id}").json["items"]
    assert [b["id"] for b in listed] == [created.json["id"]]


@pytest.mark.parametrize(
    "field,value",
    [
        ("status", "running"),
        ("tenant_id", "ten_other"),
        ("id", "bot_x"),
        ("version", 99),
        ("created_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_patch_rejects_mass_assignment(bots_a: LambdaApi, field: str, value: Any) -> None:
    bot_id = bots_a.post("/bots", body=bot(), headers=idempotency_header()).json["id"]
    before = bots_a.get(f"/bots/{bot_id}").json
    reply = bots_a.patch(f"/bots/{bot_id}", body={"name": "ok", field: value})
    assert reply.status == 422 and reply.error_code == "validation_error"
    assert reply.json["error"]["details"]["fields"][0]["field"].endswith(field)
    assert bots_a.get(f"/bots/{bot_id}").json == before


def test_requests_without_authorizer_context_are_401(bots_handler: Any) -> None:
    anonymous = LambdaApi(bots_handler, None)
    assert anonymous.get("/bots").status == 401
    assert anonymous.post("/bots", body=bot(), headers=idempotency_header()).error_code == "unauthorized"


# ---------------------------------------------------------------- bad input

NUMBER_CASES = {
    "negative": '{"max_position_notional": -5, "max_daily_loss": 100, "max_open_orders": 2}',
    "zero": '{"max_position_notional": 0, "max_daily_loss": 100, "max_open_orders": 2}',
    "huge": '{"max_position_notional": 1e400, "max_daily_loss": 100, "max_open_orders": 2}',
    "huge_int": '{"max_position_notional": 1' + "0" * 60 + ', "max_daily_loss": 100, "max_open_orders": 2}',
    "too_many_decimals": '{"max_position_notional": 0.000000001, "max_daily_loss": 100, "max_open_orders": 2}',
    "string_nan": '{"max_position_notional": "NaN", "max_daily_loss": 100, "max_open_orders": 2}',
    "orders_zero": '{"max_position_notional": 10, "max_daily_loss": 100, "max_open_orders": 0}',
    "orders_float": '{"max_position_notional": 10, "max_daily_loss": 100, "max_open_orders": 2.5}',
    "orders_huge": '{"max_position_notional": 10, "max_daily_loss": 100, "max_open_orders": 99999999999999999999}',
}


@pytest.mark.parametrize("case", sorted(NUMBER_CASES))
def test_bad_numbers_are_422_and_write_nothing(bots_a: LambdaApi, tenant_a: Caller, case: str) -> None:
    body = json.dumps(bot()).replace(json.dumps(bot()["risk"]), NUMBER_CASES[case])
    reply = bots_a.post("/bots", raw_body=body, headers=idempotency_header())
    assert reply.status == 422, (case, reply.text)
    assert reply.error_code == "validation_error"
    assert _rows(tenant_a.tenant_id) == []


@pytest.mark.parametrize(
    "case,body,status,code",
    [
        ("malformed", '{"name": "x",', 400, "malformed_json"),
        # NaN and Infinity are not JSON: the strict parser refuses them before validation.
        (
            "nan",
            json.dumps(bot()).replace('"max_position_notional": 1000', '"max_position_notional": NaN'),
            400,
            "malformed_json",
        ),
        (
            "infinity",
            json.dumps(bot()).replace('"max_position_notional": 1000', '"max_position_notional": Infinity'),
            400,
            "malformed_json",
        ),
        (
            "neg_infinity",
            json.dumps(bot()).replace('"max_position_notional": 1000', '"max_position_notional": -Infinity'),
            400,
            "malformed_json",
        ),
        ("not_an_object", '["a", "list"]', 422, "validation_error"),
        ("empty", "", 422, "validation_error"),
        ("wrong_types", json.dumps(bot(name=123, symbol=["BTC"])), 422, "validation_error"),
        ("unknown_strategy", json.dumps(bot(strategy={"type": "martingale", "params": {}})), 422, "validation_error"),
        (
            "bad_params",
            json.dumps(bot(strategy={"type": "sma_cross", "params": {"fast": 50, "slow": 20}})),
            422,
            "validation_error",
        ),
        ("unknown_field", json.dumps(bot(leverage=100)), 422, "validation_error"),
        ("bad_symbol", json.dumps(bot(symbol="btc-usdt")), 422, "validation_error"),
        ("control_chars", json.dumps(bot(name="bad\u0000name")), 422, "validation_error"),
        (
            "other_account",
            json.dumps(bot(exchange_account_id="acct_01jd0000000000000000000000")),
            404,
            "exchange_account_not_found",
        ),
    ],
)
def test_bad_bodies_get_clear_4xx_and_write_nothing(
    bots_a: LambdaApi, tenant_a: Caller, case: str, body: str, status: int, code: str
) -> None:
    reply = bots_a.post("/bots", raw_body=body, headers=idempotency_header())
    assert reply.status == status, (case, reply.text)
    assert reply.error_code == code
    assert set(reply.json["error"]) == {"code", "message", "details"}
    assert _rows(tenant_a.tenant_id) == []


def test_validation_errors_do_not_echo_submitted_values(bots_a: LambdaApi) -> None:
    secret_looking = "sk_live_" + secrets.token_hex(16)
    reply = bots_a.post("/bots", body=bot(name=secret_looking * 10), headers=idempotency_header())
    assert reply.status == 422
    assert secret_looking not in reply.text


def test_ten_megabyte_body_is_413_before_parsing(bots_a: LambdaApi, tenant_a: Caller) -> None:
    huge = json.dumps(bot(name="x" * (10 * 1024 * 1024)))
    reply = bots_a.post("/bots", raw_body=huge, headers=idempotency_header())
    assert reply.status == 413 and reply.error_code == "payload_too_large"
    assert _rows(tenant_a.tenant_id) == []


@pytest.mark.parametrize("url", ["/bots?limit=0", "/bots?limit=1000", "/bots?limit=abc", "/bots?cursor=" + "A" * 600])
def test_bad_query_parameters_are_4xx(bots_a: LambdaApi, url: str) -> None:
    reply = bots_a.get(url)
    assert reply.status in (400, 422), reply.text


def test_malformed_ids_in_paths_are_404(bots_a: LambdaApi) -> None:
    for path in ("/bots/..%2F..%2Fetc", "/bots/bot_' OR 1=1", "/bots/" + "b" * 300, "/bots/bot_/start"):
        reply = bots_a.get(path) if not path.endswith("/start") else bots_a.post(path)
        assert reply.status == 404, (path, reply.text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
bot_like = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "symbol": json_values,
        "exchange_account_id": json_values,
        "strategy": st.fixed_dictionaries(
            {"type": st.sampled_from(["sma_cross", "dca", "grid", "signal", "x"])},
            optional={
                "params": st.dictionaries(
                    st.sampled_from(
                        [
                            "fast",
                            "slow",
                            "timeframe",
                            "interval",
                            "order_notional",
                            "lower_price",
                            "upper_price",
                            "levels",
                            "order_amount",
                        ]
                    ),
                    json_values,
                    max_size=5,
                )
            },
        ),
        "risk": st.dictionaries(
            st.sampled_from(["max_position_notional", "max_daily_loss", "max_open_orders"]), json_values, max_size=3
        ),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bot_like)
def test_no_body_a_client_can_send_produces_a_5xx(bots_a: LambdaApi, body: dict[str, Any]) -> None:
    """Sharing one tenant across examples is sound: each create sends a fresh Idempotency-Key, the
    API keeps no per-tenant bot quota or name uniqueness, the PATCH targets an id no example can
    create (ids are generated server-side), nothing here engages the kill switch, and each example
    judges only its own answers' status class."""
    reply = bots_a.post("/bots", raw_body=json.dumps(body), headers=idempotency_header())
    assert reply.status < 500, reply.text
    assert reply.status in (201, 400, 404, 422)
    patch = bots_a.patch("/bots/bot_01jd0000000000000000000000", raw_body=json.dumps(body))
    assert patch.status < 500, patch.text
