"""Exchange accounts through exchange_accounts_api: registration verified by a real signed call
to the fake Binance, credentials encrypted at rest and bound to their tenant and account, tenant
isolation, balances and market data."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_masking.exceptions import DataMaskingContextMismatchError

from tests.support.api import Caller, LambdaApi, Reply, idempotency_header
from tests.support.aws import TestCloud
from tests.support.fake_exchange import Endpoint, FakeBinance
from tests.support.fake_exchange.engine import MARKETS_PATH
from tests.support.payloads import bot
from tests.support.trading import TradingRig, exchange_api_for, orders_api_for, point_binance_at  # noqa: F401

GHOST_ACCOUNT = "acct_01jd0000000000000000000000"


# ---------------------------------------------------------------- helpers and fixtures


def _rows(tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's raw ExchangeAccounts items, straight from DynamoDB."""
    items: list[dict[str, Any]] = boto3.client("dynamodb").query(
        TableName=os.environ["EXCHANGE_ACCOUNTS_TABLE"],
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant_id}},
        ConsistentRead=True,
    )["Items"]
    return items


def _assert_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.text
    assert reply.error_code == code, reply.text
    assert set(reply.json["error"]) == {"code", "message", "details"}


def _registration(server: FakeBinance, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "exchange": "binance",
        "label": "main binance",
        "api_key": server.api_key,
        "secret": server.secret,
    }
    body.update(changes)
    return body


@pytest.fixture
def server(point_binance_at: Any) -> Iterator[FakeBinance]:  # noqa: F811 - the imported fixture
    """A fake Binance with credentials unique to this test; the product's binance goes to it."""
    fake = FakeBinance(api_key="AK" + secrets.token_hex(16) + "Wq9z", secret="SK" + secrets.token_urlsafe(32))
    with fake:
        point_binance_at(fake)
        yield fake


@pytest.fixture
def accounts_a(tenant_a: Caller) -> LambdaApi:
    return exchange_api_for(tenant_a)


@pytest.fixture
def accounts_b(tenant_b: Caller) -> LambdaApi:
    return exchange_api_for(tenant_b)


@pytest.fixture
def account_a(accounts_a: LambdaApi, server: FakeBinance) -> str:
    reply = accounts_a.post("/exchange-accounts", body=_registration(server))
    assert reply.status == 201, reply.text
    account_id: str = reply.json["id"]
    return account_id


# ---------------------------------------------------------------- registration


def test_register_verifies_with_a_signed_call_and_never_returns_credentials(
    accounts_a: LambdaApi, server: FakeBinance
) -> None:
    reply = accounts_a.post("/exchange-accounts", body=_registration(server))
    assert reply.status == 201, reply.text
    body = reply.json
    assert set(body) == {"id", "exchange", "label", "sandbox", "status", "api_key_last4", "created_at"}
    assert body["id"].startswith("acct_") and len(body["id"]) == len("acct_") + 26
    assert (body["exchange"], body["label"], body["sandbox"], body["status"]) == (
        "binance",
        "main binance",
        False,
        "active",
    )
    assert body["api_key_last4"] == server.api_key[-4:] == "Wq9z"
    assert body["created_at"]
    for secret_value in (server.api_key, server.secret, server.api_key[:-4], server.secret[:8]):
        assert secret_value not in reply.text

    # Validation was a real authenticated call, signed with the secret.
    account_calls = server.requests_to(Endpoint.ACCOUNT)
    assert account_calls, [r.path for r in server.requests]
    assert any(r.api_key_valid and r.signature_valid and r.status == 200 for r in account_calls)
    assert all(r.method == "GET" and r.path == "/api/v3/account" for r in account_calls)
    # Nothing but reads: registering never places an order.
    assert server.order_requests() == []


def test_stored_row_holds_no_plaintext_credentials(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance, account_a: str
) -> None:
    rows = _rows(tenant_a.tenant_id)
    assert [row["account_id"]["S"] for row in rows] == [account_a]
    row = rows[0]
    assert row["key_last4"]["S"] == server.api_key[-4:]
    assert row["credentials"]["S"]  # an encrypted blob is there ...
    dumped = json.dumps(row)
    forms = [
        server.api_key,
        server.secret,
        base64.b64encode(server.api_key.encode()).decode(),
        base64.b64encode(server.secret.encode()).decode(),
        server.api_key[:-4],
    ]
    for form in forms:  # ... but neither value, in any obvious form, anywhere in the item
        assert form not in dumped


def test_wrong_secret_is_422_invalid_credentials_and_stores_nothing(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance
) -> None:
    reply = accounts_a.post("/exchange-accounts", body=_registration(server, secret="not-" + server.secret))
    _assert_error(reply, 422, "invalid_credentials")
    assert server.secret not in reply.text and server.api_key not in reply.text
    # The fake really saw a badly signed request (the product did ask the exchange).
    calls = server.requests_to(Endpoint.ACCOUNT)
    assert calls and all(r.signature_valid is False for r in calls)
    assert [a["id"] for a in accounts_a.get("/exchange-accounts").json["items"]] == ["paper"]
    assert _rows(tenant_a.tenant_id) == []


def test_wrong_api_key_is_422_invalid_credentials(accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance) -> None:
    reply = accounts_a.post("/exchange-accounts", body=_registration(server, api_key="nope" + server.api_key))
    _assert_error(reply, 422, "invalid_credentials")
    assert _rows(tenant_a.tenant_id) == []


@pytest.mark.parametrize("exchange", ["notanexchange", "base", "static", "pro", "async"])
def test_unsupported_exchange_is_422(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance, exchange: str
) -> None:
    reply = accounts_a.post("/exchange-accounts", body=_registration(server, exchange=exchange))
    _assert_error(reply, 422, "unsupported_exchange")
    assert "binance" in reply.json["error"]["details"]["supported"]
    assert server.requests == []  # rejected before any network call
    assert _rows(tenant_a.tenant_id) == []


def test_okx_without_password_is_422_password_required(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance
) -> None:
    reply = accounts_a.post("/exchange-accounts", body=_registration(server, exchange="okx"))
    _assert_error(reply, 422, "password_required")
    assert _rows(tenant_a.tenant_id) == []


def test_unreachable_exchange_is_503_and_stores_nothing(
    accounts_a: LambdaApi,
    tenant_a: Caller,
    point_binance_at: Any,  # noqa: F811
) -> None:
    down = FakeBinance(api_key="AK" + secrets.token_hex(8), secret="SK" + secrets.token_hex(8)).start()
    point_binance_at(down)
    body = _registration(down)
    down.stop()
    reply = accounts_a.post("/exchange-accounts", body=body)
    _assert_error(reply, 503, "exchange_unavailable")
    assert body["secret"] not in reply.text and body["api_key"] not in reply.text
    assert [a["id"] for a in accounts_a.get("/exchange-accounts").json["items"]] == ["paper"]
    assert _rows(tenant_a.tenant_id) == []


def test_credentials_are_never_echoed_by_validation_errors(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance
) -> None:
    too_long = server.secret * 20  # > 512 characters
    cases = [
        _registration(server, secret=too_long),
        _registration(server, api_key=too_long),
        _registration(server, exchange="Bad Exchange!"),
        {**_registration(server), "unexpected": server.secret},
        {"exchange": "binance", "label": "x", "api_key": server.api_key},  # missing secret
        _registration(server, api_key=["not", server.api_key]),
    ]
    for body in cases:
        reply = accounts_a.post("/exchange-accounts", body=body)
        _assert_error(reply, 422, "validation_error")
        assert server.secret not in reply.text and server.api_key not in reply.text, reply.text
    assert _rows(tenant_a.tenant_id) == []


# ---------------------------------------------------------------- read, list, delete


def test_list_read_and_delete(accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance, account_a: str) -> None:
    items = accounts_a.get("/exchange-accounts").json["items"]
    assert [a["id"] for a in items] == ["paper", account_a]
    paper = items[0]
    assert paper["exchange"] == "paper" and paper["api_key_last4"] is None and paper["status"] == "active"
    assert items[1]["api_key_last4"] == server.api_key[-4:]

    read_paper = accounts_a.get("/exchange-accounts/paper")
    assert read_paper.status == 200 and read_paper.json == paper
    read = accounts_a.get(f"/exchange-accounts/{account_a}")
    assert read.status == 200 and read.json == items[1]

    deleted = accounts_a.delete(f"/exchange-accounts/{account_a}")
    assert deleted.status == 204, deleted.text
    _assert_error(accounts_a.get(f"/exchange-accounts/{account_a}"), 404, "exchange_account_not_found")
    _assert_error(accounts_a.get(f"/exchange-accounts/{account_a}/balances"), 404, "exchange_account_not_found")
    _assert_error(accounts_a.delete(f"/exchange-accounts/{account_a}"), 404, "exchange_account_not_found")
    assert [a["id"] for a in accounts_a.get("/exchange-accounts").json["items"]] == ["paper"]
    assert _rows(tenant_a.tenant_id) == []


def test_a_deleted_account_is_not_traded_by_a_warm_trade_worker(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance, account_a: str, test_cloud: TestCloud
) -> None:
    """In production the API and the trade worker are different Lambda functions, so each has
    its own `connect._instances`; here they share one process, so the worker's cache is saved
    before the DELETE and put back after it, as the worker's container would still hold it."""
    from shared.exchange import connect

    rig = TradingRig(test_cloud)
    rig.drain()
    orders = orders_api_for(tenant_a)
    order = {"exchange_account_id": account_a, "symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"}
    first = orders.post("/orders", body=order, headers=idempotency_header())
    assert first.status == 202, first.text
    rig.drain()
    assert orders.get(f"/orders/{first.json['id']}").json["status"] == "FILLED"
    worker_cache = dict(connect._instances)
    assert (tenant_a.tenant_id, account_a) in worker_cache

    queued = orders.post("/orders", body=order, headers=idempotency_header())  # accepted while the account exists
    assert queued.status == 202, queued.text
    assert accounts_a.delete(f"/exchange-accounts/{account_a}").status == 204
    connect._instances.update(worker_cache)  # the trade worker's warm container
    sent_before = len(server.order_requests())
    rig.drain()

    assert len(server.order_requests()) == sent_before, "an order was sent with a deleted account's credentials"
    after = orders.get(f"/orders/{queued.json['id']}").json
    assert (after["status"], after["reason"]) == ("REJECTED", "exchange_account_not_found")


def test_the_paper_account_cannot_be_deleted(accounts_a: LambdaApi) -> None:
    """It is listed and readable, so deleting it is a clear refusal, not a 404."""
    _assert_error(accounts_a.delete("/exchange-accounts/paper"), 409, "paper_account_permanent")
    assert accounts_a.get("/exchange-accounts/paper").status == 200


def test_unknown_and_malformed_account_ids_are_404(accounts_a: LambdaApi) -> None:
    _assert_error(accounts_a.get(f"/exchange-accounts/{GHOST_ACCOUNT}"), 404, "exchange_account_not_found")
    for bad in ("acct_x", "../paper", "PAPER", "acct_" + "a" * 40):
        assert accounts_a.get(f"/exchange-accounts/{bad}").status == 404, bad


# ---------------------------------------------------------------- encryption context


def test_credentials_decrypt_only_for_their_tenant_and_account(
    tenant_a: Caller, tenant_b: Caller, server: FakeBinance, account_a: str
) -> None:
    from shared.exchange_accounts.credentials import decrypt_credentials

    blob = _rows(tenant_a.tenant_id)[0]["credentials"]["S"]
    credentials = decrypt_credentials(tenant_a.tenant_id, account_a, blob)
    assert (credentials.api_key, credentials.secret, credentials.password) == (server.api_key, server.secret, None)
    assert server.secret not in repr(credentials) and server.api_key not in repr(credentials)

    with pytest.raises(DataMaskingContextMismatchError):
        decrypt_credentials(tenant_b.tenant_id, account_a, blob)
    with pytest.raises(DataMaskingContextMismatchError):
        decrypt_credentials(tenant_a.tenant_id, GHOST_ACCOUNT, blob)


def test_two_accounts_get_different_ciphertexts(
    accounts_a: LambdaApi, tenant_a: Caller, server: FakeBinance, account_a: str
) -> None:
    from shared.exchange_accounts.credentials import decrypt_credentials

    second = accounts_a.post("/exchange-accounts", body=_registration(server, label="second"))
    assert second.status == 201, second.text
    blobs = {row["account_id"]["S"]: row["credentials"]["S"] for row in _rows(tenant_a.tenant_id)}
    assert set(blobs) == {account_a, second.json["id"]}
    assert blobs[account_a] != blobs[second.json["id"]]
    # Swapping blobs between the tenant's own accounts does not work either.
    with pytest.raises(DataMaskingContextMismatchError):
        decrypt_credentials(tenant_a.tenant_id, second.json["id"], blobs[account_a])


# ---------------------------------------------------------------- tenant isolation


def test_tenant_b_cannot_see_delete_read_or_use_tenant_a_account(
    accounts_a: LambdaApi,
    accounts_b: LambdaApi,
    bots_b: LambdaApi,
    tenant_a: Caller,
    tenant_b: Caller,
    server: FakeBinance,
    account_a: str,
) -> None:
    assert [a["id"] for a in accounts_b.get("/exchange-accounts").json["items"]] == ["paper"]
    _assert_error(accounts_b.get(f"/exchange-accounts/{account_a}"), 404, "exchange_account_not_found")
    _assert_error(accounts_b.get(f"/exchange-accounts/{account_a}/balances"), 404, "exchange_account_not_found")
    _assert_error(accounts_b.delete(f"/exchange-accounts/{account_a}"), 404, "exchange_account_not_found")
    # Indistinguishable from an account that does not exist.
    ghost = accounts_b.get(f"/exchange-accounts/{GHOST_ACCOUNT}").text
    assert accounts_b.get(f"/exchange-accounts/{account_a}").text.replace(account_a, GHOST_ACCOUNT) == ghost

    _assert_error(
        bots_b.post("/bots", body=bot(exchange_account_id=account_a), headers=idempotency_header()),
        404,
        "exchange_account_not_found",
    )
    assert bots_b.get("/bots").json["items"] == []

    orders_b = orders_api_for(tenant_b)
    order = {"exchange_account_id": account_a, "symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"}
    _assert_error(orders_b.post("/orders", body=order, headers=idempotency_header()), 404, "exchange_account_not_found")
    assert orders_b.get("/orders").json["items"] == []

    # Nothing of B's attempts reached the exchange with A's keys, and A's account is intact.
    assert server.order_requests() == []
    assert accounts_a.get(f"/exchange-accounts/{account_a}").status == 200
    assert len(_rows(tenant_a.tenant_id)) == 1 and _rows(tenant_b.tenant_id) == []


# ---------------------------------------------------------------- balances


def test_paper_balances_start_with_10000_usdt(accounts_a: LambdaApi) -> None:
    reply = accounts_a.get("/exchange-accounts/paper/balances")
    assert reply.status == 200, reply.text
    assert reply.json == {
        "exchange_account_id": "paper",
        "balances": {"USDT": {"free": "10000", "used": "0", "total": "10000"}},
    }


def test_binance_balances_come_from_the_exchange(accounts_a: LambdaApi, server: FakeBinance, account_a: str) -> None:
    server.set_balance("SOL", "12.345")
    server.clear_requests()
    reply = accounts_a.get(f"/exchange-accounts/{account_a}/balances")
    assert reply.status == 200, reply.text
    balances = reply.json["balances"]
    assert reply.json["exchange_account_id"] == account_a
    assert set(balances) == {"USDT", "BTC", "ETH", "SOL"}
    for asset, amount in {"USDT": "10000", "BTC": "1", "ETH": "10", "SOL": "12.345"}.items():
        assert all(isinstance(v, str) for v in balances[asset].values())
        assert Decimal(balances[asset]["free"]) == Decimal(amount)
        assert Decimal(balances[asset]["used"]) == 0
        assert Decimal(balances[asset]["total"]) == Decimal(amount)
    assert any(r.signature_valid for r in server.requests_to(Endpoint.ACCOUNT))


# ---------------------------------------------------------------- markets


def test_paper_market_rules_and_price(accounts_a: LambdaApi) -> None:
    reply = accounts_a.get("/markets/paper/BTC-USDT")
    assert reply.status == 200, reply.text
    market = reply.json
    from shared.exchange.paper import MARKETS_PATH as PAPER_MARKETS_PATH

    expected = json.loads(PAPER_MARKETS_PATH.read_text())["BTC/USDT"]
    assert (market["exchange"], market["symbol"], market["base"], market["quote"]) == (
        "paper",
        "BTC/USDT",
        "BTC",
        "USDT",
    )
    assert Decimal(market["amount_step"]) == Decimal(expected["amount_step"])
    assert Decimal(market["price_step"]) == Decimal(expected["price_step"])
    assert Decimal(market["min_amount"]) == Decimal(expected["min_amount"])
    assert Decimal(market["min_cost"]) == Decimal(expected["min_cost"])
    last = Decimal(market["last"])
    base_price = Decimal(expected["base_price"])
    assert base_price * Decimal("0.8") < last < base_price * Decimal("1.2")
    assert Decimal(market["bid"]) < last < Decimal(market["ask"])
    assert last % Decimal(market["price_step"]) == 0
    # Also with an underscore separator.
    assert accounts_a.get("/markets/paper/ETH_USDT").json["symbol"] == "ETH/USDT"


def test_binance_market_rules_and_price_come_from_the_exchange(accounts_a: LambdaApi, server: FakeBinance) -> None:
    server.set_price("BTC/USDT", "61234.56")
    reply = accounts_a.get("/markets/binance/BTC-USDT")
    assert reply.status == 200, reply.text
    market = reply.json
    assert Decimal(market["last"]) == Decimal("61234.56")
    assert server.requests_to(Endpoint.TICKER_24HR), "the price must come from the exchange"
    filters = {f["filterType"]: f for f in json.loads(MARKETS_PATH.read_text())["BTC/USDT"]["info"]["filters"]}
    assert Decimal(market["amount_step"]) == Decimal(filters["LOT_SIZE"]["stepSize"])
    assert Decimal(market["min_amount"]) == Decimal(filters["LOT_SIZE"]["minQty"])
    assert Decimal(market["max_amount"]) == Decimal(filters["LOT_SIZE"]["maxQty"])
    assert Decimal(market["price_step"]) == Decimal(filters["PRICE_FILTER"]["tickSize"])
    assert Decimal(market["min_cost"]) == Decimal(filters["NOTIONAL"]["minNotional"])
    assert (market["exchange"], market["base"], market["quote"]) == ("binance", "BTC", "USDT")


@pytest.mark.parametrize("exchange", ["paper", "binance"])
def test_unknown_symbol_is_404_unknown_market(accounts_a: LambdaApi, server: FakeBinance, exchange: str) -> None:
    reply = accounts_a.get(f"/markets/{exchange}/FOO-USDT")
    _assert_error(reply, 404, "unknown_market")
    assert reply.json["error"]["details"] == {"exchange": exchange, "symbol": "FOO/USDT"}


@pytest.mark.parametrize("exchange", ["nope", "base", "notanexchange"])
def test_unknown_exchange_is_404_unknown_exchange(accounts_a: LambdaApi, exchange: str) -> None:
    _assert_error(accounts_a.get(f"/markets/{exchange}/BTC-USDT"), 404, "unknown_exchange")
