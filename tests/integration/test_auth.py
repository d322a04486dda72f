"""auth_api and the authorizer through their lambda_handlers, against moto's server."""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import time
from typing import Any

import boto3
import jwt
import pytest

from tests.integration.conftest import BusTap
from tests.support.api import Caller, LambdaApi, invoke, load_event
from tests.support.tenants import PASSWORD, new_tenant


@pytest.fixture(scope="session")
def authorizer() -> Any:
    from functions.authorizer.app import lambda_handler

    return lambda_handler


def authorize(handler: Any, headers: dict[str, str]) -> dict[str, Any] | None:
    """Run the authorizer like API Gateway; None means 401 (it raised "Unauthorized")."""
    from localcloud.functions import FakeLambdaContext

    event = copy.deepcopy(load_event("authorizer_api_key.json"))
    event["headers"] = dict(headers)
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    try:
        result: dict[str, Any] = handler(event, FakeLambdaContext("authorizer", 256, 10))
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return None
    return result


def login(auth_handler: Any, email: str, password: str = PASSWORD) -> Any:
    return LambdaApi(auth_handler).post("/auth/login", body={"email": email, "password": password})


def test_sample_signup_and_login_events(auth_handler: Any) -> None:
    email = f"sample-{secrets.token_hex(4)}@example.com"
    signup = load_event("auth_api_signup.json")
    signup["body"] = json.dumps({**json.loads(signup["body"]), "email": email})
    reply = invoke(auth_handler, signup)
    assert reply.status == 201, reply.text
    assert reply.json["tenant"]["name"] == "Example Trading"
    assert reply.json["user"] == {"id": reply.json["user"]["id"], "email": email, "role": "owner"}
    login_event = load_event("auth_api_login.json")
    login_event["body"] = json.dumps({**json.loads(login_event["body"]), "email": email})
    token = invoke(auth_handler, login_event)
    assert token.status == 200
    assert token.json["token_type"] == "Bearer" and token.json["expires_in"] == 900


def _tenant_count() -> int:
    table = os.environ["TENANTS_TABLE"]
    return int(boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"])


def test_signup_twice_with_one_email_is_409_and_writes_nothing(auth_handler: Any, bus_tap: BusTap) -> None:
    api = LambdaApi(auth_handler)
    email = f"Dup-{secrets.token_hex(4)}@Example.com"
    first = api.post("/auth/signup", body={"email": email, "password": PASSWORD})
    assert first.status == 201
    assert first.json["user"]["email"] == email.lower()
    tenants_before = _tenant_count()
    second = api.post("/auth/signup", body={"email": email.lower(), "password": PASSWORD})
    assert second.status == 409 and second.error_code == "email_taken"
    assert _tenant_count() == tenants_before  # the transaction left no orphan tenant
    events = bus_tap.of_tenant(first.json["tenant"]["id"], expect=1)
    assert [e["type"] for e in events] == ["tenant.created"]


def test_login_token_authorizes_with_all_scopes(auth_handler: Any, authorizer: Any) -> None:
    caller, email = new_tenant(auth_handler)
    token = login(auth_handler, email).json["access_token"]
    policy = authorize(authorizer, {"Authorization": f"Bearer {token}"})
    assert policy is not None
    assert policy["context"]["tenant_id"] == caller.tenant_id
    assert policy["context"]["principal_id"] == caller.principal_id
    assert set(policy["context"]["scopes"].split()) == {"read", "trade", "admin"}
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"][0].endswith("/v1/*/*")


def test_wrong_password_and_unknown_email_look_the_same(auth_handler: Any) -> None:
    _, email = new_tenant(auth_handler)
    wrong = login(auth_handler, email, "not-the-password!")
    unknown = login(auth_handler, f"nobody-{secrets.token_hex(4)}@example.com")
    assert wrong.status == unknown.status == 401
    assert wrong.json == unknown.json
    assert "password" not in json.dumps(wrong.json["error"]["details"])


def test_login_locks_after_repeated_failures(auth_handler: Any) -> None:
    _, email = new_tenant(auth_handler)
    statuses = [login(auth_handler, email, f"wrong-password-{i}").status for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = login(auth_handler, email)  # even the right password, while locked
    assert locked.status == 429 and locked.error_code == "login_locked"
    assert int(locked.headers["retry-after"]) > 0


def test_api_key_lifecycle(auth_handler: Any, authorizer: Any, bus_tap: BusTap) -> None:
    owner, _ = new_tenant(auth_handler)
    api = LambdaApi(auth_handler, owner)
    created = api.post("/api-keys", body={"name": "ci", "scopes": ["read", "trade"]})
    assert created.status == 201
    key = created.json["key"]
    assert key.startswith("co_")

    policy = authorize(authorizer, {"X-Api-Key": key})
    assert policy is not None
    assert policy["context"]["tenant_id"] == owner.tenant_id
    assert policy["context"]["scopes"] == "read trade"
    assert authorize(authorizer, {"Authorization": f"Bearer {key}"}) is not None

    listed = api.get("/api-keys").json["items"]
    assert [k["id"] for k in listed] == [created.json["id"]]
    assert "key" not in listed[0] and listed[0]["last_used_at"] is not None
    rows = boto3.client("dynamodb").query(
        TableName=os.environ["API_KEYS_TABLE"],
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": owner.tenant_id}},
    )["Items"]
    assert key not in json.dumps(rows)  # only the hash is stored

    assert api.delete(f"/api-keys/{created.json['id']}").status == 204
    assert authorize(authorizer, {"X-Api-Key": key}) is None  # revoked: 401 at once
    assert api.delete(f"/api-keys/{created.json['id']}").status == 404
    types = [e["type"] for e in bus_tap.of_tenant(owner.tenant_id, expect=3)]
    assert types == ["tenant.created", "api_key.created", "api_key.revoked"]
    assert key not in json.dumps(bus_tap.seen)


def test_a_key_cannot_mint_wider_scopes(auth_handler: Any) -> None:
    owner, _ = new_tenant(auth_handler)
    limited = Caller(owner.tenant_id, "key:key_limited", scopes=("read", "admin"))
    reply = LambdaApi(auth_handler, limited).post("/api-keys", body={"name": "x", "scopes": ["trade"]})
    assert reply.status == 403 and reply.json["error"]["details"] == {"missing_scopes": ["trade"]}


def test_tenants_cannot_list_or_revoke_each_others_keys(auth_handler: Any, authorizer: Any) -> None:
    a, _ = new_tenant(auth_handler)
    b, _ = new_tenant(auth_handler)
    key = LambdaApi(auth_handler, a).post("/api-keys", body={"name": "a", "scopes": ["read"]}).json
    api_b = LambdaApi(auth_handler, b)
    assert api_b.get("/api-keys").json["items"] == []
    assert api_b.delete(f"/api-keys/{key['id']}").status == 404
    assert authorize(authorizer, {"X-Api-Key": key["key"]}) is not None


def _forge(claims: dict[str, Any], secret: bytes | str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _claims(tenant_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "usr_x",
        "tid": tenant_id,
        "scope": "read trade admin",
        "iss": "cryptoorchestrator",
        "aud": "cryptoorchestrator-api",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "case",
    [
        "alg_none",
        "wrong_signature",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "no_exp",
        "hs512",
        "garbage",
        "empty",
        "basic_scheme",
        "unknown_key",
        "malformed_key",
    ],
)
def test_authorizer_rejects_bad_credentials(authorizer: Any, case: str) -> None:
    from shared.auth.tokens import signing_secret

    secret = signing_secret()
    tenant = "ten_01jd0000000000000000000000"
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(_claims(tenant)).encode()).rstrip(b"=").decode()
    tokens = {
        "alg_none": f"{header}.{payload}.",
        "wrong_signature": _forge(_claims(tenant), b"x" * 48),
        "expired": _forge(_claims(tenant, exp=int(time.time()) - 60), secret),
        "wrong_audience": _forge(_claims(tenant, aud="someone-else"), secret),
        "wrong_issuer": _forge(_claims(tenant, iss="evil"), secret),
        "no_exp": _forge(_claims(tenant, exp=None), secret),
        "hs512": _forge(_claims(tenant), secret, "HS512"),
        "garbage": "not.a.jwt",
    }
    if case in tokens:
        headers = {"Authorization": f"Bearer {tokens[case]}"}
    elif case == "empty":
        headers = {}
    elif case == "basic_scheme":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    elif case == "unknown_key":
        headers = {"X-Api-Key": "co_01jd0000000000000000000000_" + "A" * 43}
    else:
        headers = {"X-Api-Key": "co_short"}
    assert authorize(authorizer, headers) is None


def test_a_well_formed_token_passes_so_the_rejections_above_mean_something(authorizer: Any) -> None:
    from shared.auth.tokens import signing_secret

    token = _forge(_claims("ten_01jd0000000000000000000000"), signing_secret())
    policy = authorize(authorizer, {"Authorization": f"Bearer {token}"})
    assert policy is not None and policy["context"]["tenant_id"] == "ten_01jd0000000000000000000000"


def test_jwt_secret_comes_from_secrets_manager_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.auth import tokens
    from shared.config import Settings

    arn = os.environ["JWT_SECRET_ARN"]
    expected = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    monkeypatch.setattr(tokens, "get_settings", lambda: Settings(jwt_secret=None, jwt_secret_arn=arn))
    tokens.signing_secret.cache_clear()
    try:
        assert tokens.signing_secret() == expected.encode()
    finally:
        tokens.signing_secret.cache_clear()


def test_two_different_credentials_are_refused_not_one_preferred(auth_handler: Any, authorizer: Any) -> None:
    """An API key and a different bearer token in one request: 401, whichever is valid."""
    from shared.auth.tokens import signing_secret

    token = _forge(_claims("ten_01jd0000000000000000000000"), signing_secret())
    api_key = "co_01jd0000000000000000000000_" + "A" * 43
    assert authorize(authorizer, {"X-Api-Key": api_key, "Authorization": f"Bearer {token}"}) is None
    assert authorize(authorizer, {"x-api-key": api_key, "authorization": "Basic dXNlcjpwYXNz"}) is None
    assert authorize(authorizer, {"Authorization": f"Bearer {token}"}) is not None  # alone, it passes
