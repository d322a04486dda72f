"""Exchange credentials never leak: not in API answers, logs (powertools at DEBUG), domain events
or any stored item, whatever happens on the way (bad credentials, rejected, ambiguous and
canceled orders, reconciliation, reads, errors)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.template import resources_of_type
from tests.integration.conftest import BusTap
from tests.support.api import Caller, idempotency_header
from tests.support.aws import TestCloud
from tests.support.fake_exchange import Endpoint, FakeBinance, Fault
from tests.support.secrets_scan import (
    RecordingApi,
    find_secrets,
    keep_log_records,
    powertools_logs_to_stdout,
    scan_table,
    secret_forms,
)
from tests.support.trading import TradingRig, point_binance_at  # noqa: F401


@pytest.fixture
def server(point_binance_at: Any) -> Iterator[FakeBinance]:  # noqa: F811 - the imported fixture
    """Unusual, unique credentials: characters that change under JSON, URL and base64 encoding."""
    fake = FakeBinance(
        api_key="AK+" + secrets.token_urlsafe(24) + "/k=Q", secret="S/" + secrets.token_urlsafe(30) + "+=&%"
    )
    with fake:
        point_binance_at(fake)
        yield fake


def test_secret_forms_cover_encodings() -> None:
    """The scanner itself: every encoded form of a value is found inside larger text."""
    import base64
    from urllib.parse import quote

    value = "S/" + secrets.token_urlsafe(30) + "+=&%"
    for prefix in (b"", b"x", b"xy", b"xyz"):
        blob = base64.b64encode(prefix + value.encode() + b"tail").decode()
        assert find_secrets([("blob", blob)], {"secret": value}), prefix
    assert find_secrets([("url", "a=" + quote(value, safe="") + "&b")], {"secret": value})
    assert find_secrets([("json", json.dumps({"k": value + '"'}))], {"secret": value})
    assert find_secrets([("hex", value.encode().hex().upper())], {"secret": value})
    assert not find_secrets([("clean", "nothing to see " + value[:8])], {"secret": value})
    assert {"raw", "url", "json"} <= set(secret_forms(value))


def _order(account_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "exchange_account_id": account_id,
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "market",
        "amount": "0.001",
        **changes,
    }


def test_credentials_never_leak(
    server: FakeBinance, tenant_a: Caller, test_cloud: TestCloud, bus_tap: BusTap, capfd: pytest.CaptureFixture[str]
) -> None:
    from functions.exchange_accounts_api.app import lambda_handler as accounts_handler
    from functions.orders_api.app import lambda_handler as orders_handler

    accounts = RecordingApi(accounts_handler, tenant_a)
    orders = RecordingApi(orders_handler, tenant_a)
    rig = TradingRig(test_cloud)
    rig.drain()
    wanted = {"api_key": server.api_key, "secret": server.secret, "api_key_prefix": server.api_key[:-4]}

    with keep_log_records() as records, powertools_logs_to_stdout("DEBUG"):
        # Register, and fail to register in several ways.
        registered = accounts.post(
            "/exchange-accounts",
            body={"exchange": "binance", "label": "secret test", "api_key": server.api_key, "secret": server.secret},
        )
        assert registered.status == 201, registered.text
        account_id = registered.json["id"]
        wrong = accounts.post(
            "/exchange-accounts",
            body={"exchange": "binance", "label": "wrong", "api_key": server.api_key, "secret": "x" + server.secret},
        )
        assert wrong.status == 422 and wrong.error_code == "invalid_credentials"
        too_long = accounts.post(
            "/exchange-accounts",
            body={"exchange": "binance", "label": "long", "api_key": server.api_key * 30, "secret": server.secret},
        )
        assert too_long.status == 422
        no_password = accounts.post(
            "/exchange-accounts",
            body={"exchange": "okx", "label": "okx", "api_key": server.api_key, "secret": server.secret},
        )
        assert no_password.error_code == "password_required"
        server.faults.on(Endpoint.ACCOUNT, Fault.server_error(503), times=3)
        unavailable = accounts.post(
            "/exchange-accounts",
            body={"exchange": "binance", "label": "down", "api_key": server.api_key, "secret": server.secret},
        )
        assert unavailable.status == 503, unavailable.text
        smuggled = accounts.post(
            "/exchange-accounts",
            body={
                "exchange": "binance",
                "label": "extra",
                "api_key": server.api_key,
                "secret": server.secret,
                "note": server.secret,
            },
        )
        assert smuggled.status == 422

        # Orders: one fills, one the exchange rejects, one ends ambiguous, one is canceled.
        filled = orders.post("/orders", body=_order(account_id), headers=idempotency_header())
        assert filled.status == 202, filled.text
        rig.drain()
        server.faults.on_create(Fault.insufficient_funds())
        rejected = orders.post("/orders", body=_order(account_id), headers=idempotency_header())
        rig.drain()
        server.faults.on_create(Fault.status_unknown())
        ambiguous = orders.post("/orders", body=_order(account_id), headers=idempotency_header())
        rig.drain()
        assert orders.get(f"/orders/{ambiguous.json['id']}").json["status"] == "UNKNOWN"
        resting = orders.post(
            "/orders", body=_order(account_id, type="limit", price="58000.00"), headers=idempotency_header()
        )
        rig.drain()
        assert orders.get(f"/orders/{resting.json['id']}").json["status"] == "OPEN"
        assert orders.post(f"/orders/{resting.json['id']}/cancel").status == 202
        rig.drain()
        rig.reconcile()
        rig.drain()

        assert orders.get(f"/orders/{filled.json['id']}").json["status"] == "FILLED"
        refused = orders.get(f"/orders/{rejected.json['id']}").json
        assert (refused["status"], refused["reason"]) == ("REJECTED", "insufficient_funds")
        assert orders.get(f"/orders/{ambiguous.json['id']}").json["status"] == "FILLED"  # found by reconciling
        assert orders.get(f"/orders/{resting.json['id']}").json["status"] == "CANCELED"

        # Reads and errors.
        assert accounts.get(f"/exchange-accounts/{account_id}/balances").status == 200
        assert accounts.get("/exchange-accounts").status == 200
        assert accounts.get(f"/exchange-accounts/{account_id}").status == 200
        assert accounts.get("/markets/binance/BTC-USDT").status == 200
        assert orders.get("/orders").status == 200
        assert orders.get("/positions").status == 200
        assert accounts.get("/exchange-accounts/acct_01jd0000000000000000000000/balances").status == 404
        assert (
            orders.post("/orders", body=_order(account_id, amount="0.0000001"), headers=idempotency_header()).status
            == 422
        )
        server.faults.on(Endpoint.ACCOUNT, Fault.server_error(503), times=3)
        assert accounts.get(f"/exchange-accounts/{account_id}/balances").status == 503

        # A second account, deleted again.
        second = accounts.post(
            "/exchange-accounts",
            body={"exchange": "binance", "label": "temp", "api_key": server.api_key, "secret": server.secret},
        )
        assert second.status == 201
        assert accounts.delete(f"/exchange-accounts/{second.json['id']}").status == 204

        from shared.observability import logger

        logger.debug("capture check")  # the level is still DEBUG after all those invocations
        out, err = capfd.readouterr()

    # The credentials really were used (so there was something to leak).
    assert any(r.api_key_valid and r.signature_valid for r in server.requests)
    assert server.order_requests()
    # The capture really holds the product's logs, DEBUG included.
    assert '"message":"trade task done"' in out.replace(": ", ":"), out[-2000:]
    assert '"level":"DEBUG","location":"test_credentials_never_leak' in out.replace(": ", ":"), out[-2000:]

    haystacks: list[tuple[str, str]] = [("stdout", out), ("stderr", err)]
    haystacks += [(f"log record {i}", text) for i, text in enumerate(records.texts)]
    haystacks += list(accounts.haystacks()) + list(orders.haystacks())
    events = bus_tap.drain(expect=1)
    assert any(e["type"] == "exchange_account.created" for e in events)
    haystacks += [(f"event {e['type']}", json.dumps(e)) for e in events]

    credentials_blobs = []
    tables = resources_of_type(test_cloud.resolver.template, "AWS::DynamoDB::Table")
    assert len(tables) >= 10
    for logical_id in sorted(tables):
        name = test_cloud.resolver.ref(logical_id)
        for item in scan_table(name):
            if logical_id == "ExchangeAccountsTable" and "credentials" in item:
                credentials_blobs.append(item.pop("credentials")["S"])
            haystacks.append((f"{logical_id} item", json.dumps(item)))
    assert credentials_blobs, "the registered account's encrypted credentials should be stored"
    haystacks += [("encrypted credentials attribute", blob) for blob in credentials_blobs]

    findings = find_secrets(haystacks, wanted)
    assert not findings, "\n".join(str(f) for f in findings[:20])


def test_no_function_logs_its_incoming_events(test_cloud: TestCloud) -> None:
    """POST /exchange-accounts carries the credentials in the event body: powertools must never
    log events (POWERTOOLS_LOGGER_LOG_EVENT), in any function of the template."""
    assert test_cloud.functions
    for name, function in test_cloud.functions.items():
        assert function.environment.get("POWERTOOLS_LOGGER_LOG_EVENT", "false").lower() == "false", name
