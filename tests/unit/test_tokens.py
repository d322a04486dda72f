"""JWT access tokens: issue/verify, and every way a token must be refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from shared.auth import tokens
from shared.auth.principal import ALL_SCOPES
from shared.auth.tokens import issue_access_token, signing_secret, verify_access_token
from shared.config import Secret, Settings, get_settings
from shared.errors import ConfigurationError, Unauthorized

OTHER_SECRET = b"another-secret-that-is-long-enough-for-hs256-0123456789"


def _b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def claims(**overrides: Any) -> dict[str, Any]:
    settings = get_settings()
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "usr_123",
        "tid": "ten_abc",
        "scope": "read trade admin",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    for name, value in overrides.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def sign(payload: dict[str, Any], key: bytes | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key if key is not None else signing_secret(), algorithm=algorithm)


def assert_refused(token: str) -> None:
    with pytest.raises(Unauthorized) as info:
        verify_access_token(token)
    assert info.value.status == 401
    # Never says why.
    assert info.value.message == "invalid or expired token"


# ------------------------------------------------------------------ happy path


def test_issue_then_verify() -> None:
    issued = issue_access_token(user_id="usr_42", tenant_id="ten_7")
    principal = verify_access_token(issued.token)
    assert principal.tenant_id == "ten_7"
    assert principal.principal_id == "user:usr_42"
    assert principal.scopes == frozenset(ALL_SCOPES) == frozenset({"read", "trade", "admin"})
    assert issued.expires_in == get_settings().jwt_ttl_seconds


def test_issued_token_claims() -> None:
    settings = get_settings()
    issued = issue_access_token(user_id="usr_42", tenant_id="ten_7")
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "HS256"
    decoded = jwt.decode(
        issued.token, signing_secret(), algorithms=["HS256"], audience=settings.jwt_audience, issuer=settings.jwt_issuer
    )
    assert decoded["exp"] - decoded["iat"] == settings.jwt_ttl_seconds
    assert decoded["sub"] == "usr_42"
    assert decoded["tid"] == "ten_7"
    assert decoded["jti"].startswith("jti_")
    other = jwt.decode(
        issue_access_token(user_id="usr_42", tenant_id="ten_7").token, options={"verify_signature": False}
    )
    assert other["jti"] != decoded["jti"]


def test_hand_made_valid_token_is_accepted() -> None:
    # Guards the negative tests below: the baseline claims are valid.
    principal = verify_access_token(sign(claims()))
    assert principal.tenant_id == "ten_abc"
    assert principal.principal_id == "user:usr_123"


def test_unknown_scopes_are_dropped_and_missing_scope_gives_none() -> None:
    principal = verify_access_token(sign(claims(scope="read superuser root")))
    assert principal.scopes == frozenset({"read"})
    assert verify_access_token(sign(claims(scope=None))).scopes == frozenset()


def test_small_clock_skew_is_tolerated() -> None:
    now = int(time.time())
    assert verify_access_token(sign(claims(exp=now - 2))).tenant_id == "ten_abc"


# ------------------------------------------------------------------ refusals


def test_alg_none_refused() -> None:
    header = _b64url({"alg": "none", "typ": "JWT"})
    token = f"{header}.{_b64url(claims())}."
    assert_refused(token)


def test_alg_none_with_signature_refused() -> None:
    real = sign(claims())
    header = _b64url({"alg": "none", "typ": "JWT"})
    _, payload, signature = real.split(".")
    assert_refused(f"{header}.{payload}.{signature}")


def test_wrong_signature_refused() -> None:
    assert_refused(sign(claims(), key=OTHER_SECRET))


def test_tampered_payload_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    assert_refused(f"{header}.{_b64url(claims(tid='ten_victim'))}.{signature}")


@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_other_hmac_algorithm_with_right_secret_refused(algorithm: str) -> None:
    token = sign(claims(), algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert_refused(token)


def test_expired_refused() -> None:
    now = int(time.time())
    assert_refused(sign(claims(iat=now - 1000, nbf=now - 1000, exp=now - 60)))


def test_not_yet_valid_refused() -> None:
    now = int(time.time())
    assert_refused(sign(claims(nbf=now + 600, exp=now + 1200)))


def test_wrong_audience_refused() -> None:
    assert_refused(sign(claims(aud="some-other-api")))


def test_wrong_issuer_refused() -> None:
    assert_refused(sign(claims(iss="evil-issuer")))


@pytest.mark.parametrize("claim", ["exp", "tid", "sub", "iss", "aud"])
def test_missing_required_claim_refused(claim: str) -> None:
    assert_refused(sign(claims(**{claim: None})))


@pytest.mark.parametrize(("claim", "value"), [("tid", 123), ("tid", ["ten_a"]), ("tid", {"id": "x"}), ("sub", 42)])
def test_claims_of_wrong_type_refused(claim: str, value: Any) -> None:
    assert_refused(sign(claims(**{claim: value})))


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "a.b", "co_" + "a" * 26 + "_" + "b" * 43, "Bearer x.y.z", ".."],
    ids=repr,
)
def test_garbage_refused(token: str) -> None:
    assert_refused(token)


# ------------------------------------------------------------------ signing secret configuration


@pytest.fixture
def fresh_secret_cache() -> Iterator[None]:
    signing_secret.cache_clear()
    yield
    signing_secret.cache_clear()


def test_secret_missing_raises(monkeypatch: pytest.MonkeyPatch, fresh_secret_cache: None) -> None:
    settings = Settings(jwt_secret=None, jwt_secret_arn=None)
    monkeypatch.setattr(tokens, "get_settings", lambda: settings)
    with pytest.raises(ConfigurationError, match="must be configured"):
        signing_secret()
    # Fails closed: no token can be issued or verified either.
    with pytest.raises(ConfigurationError):
        issue_access_token(user_id="usr_1", tenant_id="ten_1")


@pytest.mark.parametrize("secret", ["", "short", "x" * 31, "\u00e9" * 15])
def test_secret_too_short_raises(monkeypatch: pytest.MonkeyPatch, fresh_secret_cache: None, secret: str) -> None:
    settings = Settings(jwt_secret=Secret(secret), jwt_secret_arn=None)
    monkeypatch.setattr(tokens, "get_settings", lambda: settings)
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        signing_secret()


def test_secret_of_minimum_length_accepted(monkeypatch: pytest.MonkeyPatch, fresh_secret_cache: None) -> None:
    secret = "k" * 32
    settings = Settings(jwt_secret=Secret(secret), jwt_secret_arn=None)
    monkeypatch.setattr(tokens, "get_settings", lambda: settings)
    assert signing_secret() == secret.encode()
    # Tokens are signed with it.
    token = issue_access_token(user_id="usr_1", tenant_id="ten_1").token
    assert jwt.decode(token, secret.encode(), algorithms=["HS256"], audience=settings.jwt_audience)["tid"] == "ten_1"


def test_session_secret_restored_after_config_tests() -> None:
    # The real (env) secret is in use again: at least 32 bytes and able to verify its own tokens.
    assert len(signing_secret()) >= 32
    token = issue_access_token(user_id="usr_9", tenant_id="ten_9").token
    assert verify_access_token(token).tenant_id == "ten_9"
