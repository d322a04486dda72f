"""Who a credential belongs to: all the API Gateway authorizer needs.

Apart from the auth service (signup, login, keys, invitations), whose request shapes and event
models the authorizer has no use for and would build at every cold start.
"""

from __future__ import annotations

from datetime import timedelta

from shared.auth import api_keys, tokens
from shared.auth.models import ApiKeyRecord
from shared.auth.principal import Principal
from shared.clock import utc_now
from shared.errors import Unauthorized
from shared.observability import logger

LAST_USED_RESOLUTION = timedelta(seconds=60)


def authenticate_api_key(plaintext: str) -> Principal:
    record = api_keys.find_key(plaintext)
    if record is None:
        raise Unauthorized("invalid API key")
    now = utc_now()
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        try:
            record.update(
                actions=[ApiKeyRecord.last_used_at.set(now)], condition=ApiKeyRecord.revoked_at.does_not_exist()
            )
        except Exception:  # bookkeeping only: never fail a request over last_used_at
            logger.warning("could not record API key use", extra={"key_id": record.key_id})
    return Principal(tenant_id=record.tenant_id, principal_id=f"key:{record.key_id}", scopes=frozenset(record.scopes))


def authenticate_bearer_token(token: str) -> Principal:
    return tokens.verify_access_token(token)
