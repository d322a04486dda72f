"""Schemathesis against the merged OpenAPI (shared/openapi.json), through the local API Gateway
(routes, authorizer, gateway responses) into every API function in-process, as two tenants.

It fails on any 5xx, any schema-valid request refused (400/415/422) for a rule the schema does not
state, any response that does not match its documented schema and any undocumented status. The
cross-tenant probe sends tenant B's real ids with tenant A's credentials: each must be a 404.
Bounded and derandomized, so it is quick and every run sends the same requests.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from localcloud.gateway import Gateway
from shared.api_spec import load_spec
from shared.inputs import IDEMPOTENCY_KEY_HEADER
from shared.webhooks import service as webhook_service
from tests.support.aws import TestCloud
from tests.support.backtests import backtest_body
from tests.support.gateway_wsgi import GatewayWsgiApp
from tests.support.payloads import bot
from tests.support.tenants import PASSWORD

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, positive_data_acceptance]
EXAMPLES_PER_OPERATION = 5
SEED = 20261130
# Routes that need the outside world, left to their own tests.
EXCLUDED = {
    ("GET", "/markets/{exchange}/{symbol}"): "loads the exchange's market list over the network",
    ("POST", "/exchange-accounts"): "verifies the credentials with an authenticated call to the exchange",
}

# Rules the server enforces that the OpenAPI does not state (cross-field rules JSON Schema cannot
# express, opaque cursors, non-JSON bodies): for these operations a schema-valid request may be
# refused, but only with the error code named here; any other refusal still fails. The list may
# only shrink.
VALIDATION = "validation_error"
PLAN_LIMIT = "plan_limit"
UNSTATED_RULES: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("POST", "/backtests"): ("end must be after start; the plan's backtests a month", {VALIDATION, PLAN_LIMIT}),
    ("POST", "/backtests/sweeps"): (
        "end after start; grid keys are strategy parameters; the plan's sweep size and backtests",
        {VALIDATION, PLAN_LIMIT},
    ),
    ("POST", "/bots"): ("strategy parameters relate (fast < slow); the plan's bot count", {VALIDATION, PLAN_LIMIT}),
    ("POST", "/bots/{bot_id}/start"): ("the plan's running bots and live trading", {PLAN_LIMIT}),
    ("POST", "/webhooks"): ("the plan's webhook subscriptions", {PLAN_LIMIT}),
    ("POST", "/tenant/invitations"): ("the plan's seats", {PLAN_LIMIT}),
    ("POST", "/auth/invitations/accept"): (
        "the token must be one the server issued, unexpired",
        {"invitation_invalid"},
    ),
    ("POST", "/billing/checkout"): (
        "the URLs' origins are the deployment's allowlist; the plan must be sold here",
        {"origin_not_allowed", VALIDATION},
    ),
    ("POST", "/billing/portal"): ("the return URL's origin is on the deployment's allowlist", {"origin_not_allowed"}),
    ("POST", "/billing/stripe-webhook"): ("the body must carry Stripe's signature", {"stripe_signature_invalid"}),
    ("PATCH", "/bots/{bot_id}"): ("strategy parameters relate (fast < slow)", {VALIDATION}),
    ("POST", "/orders"): ("a limit order needs a price; stops lie on either side of it", {VALIDATION}),
    ("POST", "/event-streams"): (
        "the endpoint's form depends on the protocol",
        {"invalid_endpoint", "webhook_url_refused"},
    ),
    ("POST", "/market-data"): ("the CSV body's format", {"invalid_csv", VALIDATION}),
    ("POST", "/signals/{bot_id}"): (
        "the signal body's text format",
        {"malformed_signal", "unknown_action", "inconsistent_signal", "unresolved_placeholder", VALIDATION},
    ),
    ("POST", "/webhooks/{webhook_id}/replay"): ("since must be before until", {VALIDATION}),
    **{
        ("GET", path): ("cursor is an opaque token the server issued", {"invalid_cursor"})
        for path in ("/backtests", "/bots", "/market-data", "/orders", "/webhooks")
    },
    ("GET", "/events"): ("opaque cursor; since must be before until", {"invalid_cursor", "invalid_time_range"}),
}
REFUSALS = {400, 402, 415, 422}


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "database": "none",
                "allow-x00": False,
                "with-security-parameters": False,  # the credentials are the tenant's, sent by the test
            },
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )


@dataclass
class Tenant:
    headers: dict[str, str]
    ids: dict[str, str]


class Api:
    """HTTP to the gateway app under /v1 for setup calls."""

    def __init__(self, app: GatewayWsgiApp) -> None:
        self.client = Client(app)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        sent = {"Content-Type": "application/json", **(headers or {})}
        response = self.client.open(
            "/v1" + path, method=method, data=None if body is None else json.dumps(body), headers=sent
        )
        assert response.status_code < 300, (method, path, response.status_code, response.get_data(as_text=True))
        text = response.get_data(as_text=True)
        return json.loads(text) if text else None


def _new_tenant(api: Api, name: str) -> Tenant:
    email = f"{name}-{SEED}@example.com"
    api.call("POST", "/auth/signup", {"email": email, "password": PASSWORD})
    token = api.call("POST", "/auth/login", {"email": email, "password": PASSWORD})["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    key = api.call("POST", "/api-keys", {"name": "fuzz", "scopes": ["read", "trade", "admin"]}, bearer)
    headers = {"X-Api-Key": key["key"]}
    created_bot = api.call("POST", "/bots", bot(), {**headers, "Idempotency-Key": f"{name}-bot"})
    webhook = api.call("POST", "/webhooks", {"url": "https://example.com/hook", "event_types": ["bot.*"]}, headers)
    order = api.call(
        "POST",
        "/orders",
        {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.01"},
        {**headers, "Idempotency-Key": f"{name}-order"},
    )
    backtest = api.call("POST", "/backtests", backtest_body(), {**headers, "Idempotency-Key": f"{name}-backtest"})
    ids = {
        "bot_id": created_bot["id"],
        "key_id": key["id"],
        "webhook_id": webhook["id"],
        "order_id": order["id"],
        "backtest_id": backtest["id"],
    }
    return Tenant(headers, ids)


@pytest.fixture(scope="module")
def app(test_cloud: TestCloud) -> GatewayWsgiApp:
    return GatewayWsgiApp(Gateway(test_cloud.resolver, test_cloud.functions))


@pytest.fixture(scope="module")
def public_dns() -> Iterator[None]:
    """Every webhook host resolves to one public address: whether a name resolves is not a rule a
    schema can state, and the test must not reach the network."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(webhook_service, "RESOLVER", lambda host, port: [ipaddress.ip_address("93.184.216.34")])
        yield


@pytest.fixture(scope="module")
def tenants(app: GatewayWsgiApp, public_dns: None) -> tuple[Tenant, Tenant]:
    api = Api(app)
    return _new_tenant(api, "fuzz-a"), _new_tenant(api, "fuzz-b")


SCHEMA = schemathesis.openapi.from_dict(load_spec(), config=_config())


def _operations() -> list[tuple[str, str]]:
    found = []
    for result in SCHEMA.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI describes an operation schemathesis cannot read: {result}"
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in EXCLUDED:
            found.append((operation.method.upper(), operation.path))
    return found


OPERATIONS = _operations()
PROBE_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure shows the request as generated
)


@pytest.fixture(scope="module")
def schema(app: GatewayWsgiApp) -> Any:
    SCHEMA.app = app
    return SCHEMA


def _headers(tenant: Tenant, case: schemathesis.Case[Any]) -> dict[str, str]:
    """The tenant's credentials, and a fresh Idempotency-Key where the case sends one (a key reused
    with another body is a 422 by design); a case that leaves the header out still leaves it out,
    so an operation that needs it must say so in the schema."""
    if IDEMPOTENCY_KEY_HEADER in (case.headers or {}):
        return {**tenant.headers, IDEMPOTENCY_KEY_HEADER: secrets.token_hex(8)}
    return dict(tenant.headers)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_its_schema(method: str, path: str, schema: Any, tenants: tuple[Tenant, Tenant]) -> None:
    tenant_a, _ = tenants
    operation = schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)
    unstated = UNSTATED_RULES.get((method, path))
    checks = [c for c in CHECKS if c is not positive_data_acceptance or unstated is None]

    @PROBE_SETTINGS
    @given(case=strategy)
    def probe(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(headers=_headers(tenant_a, case), checks=checks, app=schema.app)
        statuses.append(response.status_code)
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        if unstated and positive and response.status_code in REFUSALS:
            code = response.json()["error"]["code"]
            assert code in unstated[1], f"schema-valid request refused with {code}: {response.text}"

    statuses: list[int] = []
    probe()
    # Guards the test itself: requests that never get past the authorizer would prove nothing.
    assert set(statuses) - {401, 403}, f"every request was refused as unauthenticated: {statuses}"


# Operations reached with tenant A's credentials and tenant B's ids (signals authenticate by the
# bot's own secret, not by tenant, so they are not a cross-tenant probe).
# Where tenant B reads each resource back, to see the probe changed nothing.
OWNER_READS = {
    "bot_id": "/bots/{}",
    "key_id": "/api-keys",
    "webhook_id": "/webhooks/{}",
    "order_id": "/orders/{}",
    "backtest_id": "/backtests/{}",
}
CROSS_TENANT_PARAMETERS = set(OWNER_READS)
CROSS_TENANT = [
    (method, path)
    for method, path in OPERATIONS
    if "{" in path
    and not path.startswith("/signals/")
    and {segment[1:-1] for segment in path.split("/") if segment.startswith("{")} <= CROSS_TENANT_PARAMETERS
]


@pytest.mark.parametrize(("method", "path"), CROSS_TENANT, ids=[f"{m} {p}" for m, p in CROSS_TENANT])
def test_another_tenants_ids_are_not_found(method: str, path: str, schema: Any, tenants: tuple[Tenant, Tenant]) -> None:
    tenant_a, tenant_b = tenants
    pinned = {segment[1:-1]: tenant_b.ids[segment[1:-1]] for segment in path.split("/") if segment.startswith("{")}
    strategy = schema[path][method].as_strategy(GenerationMode.POSITIVE, path_parameters=pinned)

    @settings(PROBE_SETTINGS, max_examples=2)
    @given(case=strategy)
    def probe(case: schemathesis.Case[Any]) -> None:
        response = case.call(headers=_headers(tenant_a, case), app=schema.app)
        # A body that breaks a rule the schema does not state is refused before the lookup.
        assume(not (response.status_code == 422 and (method, path) in UNSTATED_RULES))
        assert response.status_code == 404, (case.path_parameters, response.status_code, response.text)

    before = {name: _owner_view(schema.app, tenant_b, name) for name in pinned}
    probe()
    assert {name: _owner_view(schema.app, tenant_b, name) for name in pinned} == before


def _owner_view(app: GatewayWsgiApp, owner: Tenant, parameter: str) -> Any:
    """The resource as its owner reads it (for an API key: its row in the owner's list, less the
    last use, which this very read may move)."""
    body = Api(app).call("GET", OWNER_READS[parameter].format(owner.ids[parameter]), headers=owner.headers)
    if parameter == "key_id":
        row = next(item for item in body["items"] if item["id"] == owner.ids["key_id"])
        return {k: v for k, v in row.items() if k != "last_used_at"}
    return body
