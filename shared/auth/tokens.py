"""Short-lived access tokens: JWT, HS256 pinned, `exp`/`iss`/`aud` required and checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import jwt

from shared.auth.principal import ALL_SCOPES, Principal
from shared.clock import utc_now
from shared.config import get_settings
from shared.errors import ConfigurationError, Unauthorized
from shared.ids import new_id

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


@lru_cache(maxsize=1)
def signing_secret() -> bytes:
    """From JWT_SECRET (local, tests) or the Secrets Manager secret named by JWT_SECRET_ARN.

    There is no default: a deployment without a configured secret fails loudly at first use.
    """
    settings = get_settings()
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
    elif settings.jwt_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        secret = str(get_secret(settings.jwt_secret_arn, max_age=300))
    else:
        raise ConfigurationError("JWT_SECRET or JWT_SECRET_ARN must be configured")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"the JWT signing secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret.encode()


def issue_access_token(*, user_id: str, tenant_id: str, scopes: Sequence[str] = ALL_SCOPES) -> AccessToken:
    settings = get_settings()
    now = utc_now()
    claims = {
        "sub": user_id,
        "tid": tenant_id,
        "scope": " ".join(scopes),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=settings.jwt_ttl_seconds),
        "jti": new_id("jti"),
    }
    token = jwt.encode(claims, signing_secret(), algorithm=ALGORITHM)
    return AccessToken(token=token, expires_in=settings.jwt_ttl_seconds)


def verify_access_token(token: str) -> Principal:
    """The principal a valid token names; Unauthorized for anything else (never says why)."""
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            signing_secret(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud", "sub", "tid"]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid or expired token") from exc
    if not (isinstance(claims.get("sub"), str) and claims["sub"]) or not (
        isinstance(claims.get("tid"), str) and claims["tid"]
    ):
        raise Unauthorized("invalid or expired token")
    scopes = frozenset(str(claims.get("scope", "")).split()) & frozenset(ALL_SCOPES)
    return Principal(tenant_id=claims["tid"], principal_id=f"user:{claims['sub']}", scopes=scopes)
