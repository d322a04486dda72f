"""Webhook signing secrets at rest: sealed with KMS envelope encryption (shared.kms_encryption,
the mechanism exchange credentials use) under the webhook secrets key, bound to the encryption
context {tenant_id, subscription_id}, so a sealed secret copied onto another row does not open.

The dispatcher opens a secret for every delivery; a small in-process cache keyed by the sealed
blob itself (which changes on every rotation, so an entry can never be stale) keeps that to one
KMS Decrypt per subscription and secret per Lambda environment.
"""

from __future__ import annotations

from functools import lru_cache

from shared import kms_encryption

KEY_SETTING = "webhook_secrets_key_arn"
CACHE_SIZE = 512  # subscriptions whose secrets one environment keeps open (25 per tenant at most)


def _context(tenant_id: str, subscription_id: str) -> dict[str, str]:
    return {"tenant_id": tenant_id, "subscription_id": subscription_id}


def seal(tenant_id: str, subscription_id: str, secret: str) -> str:
    return kms_encryption.encrypt(secret, key_setting=KEY_SETTING, context=_context(tenant_id, subscription_id))


@lru_cache(maxsize=CACHE_SIZE)
def open_sealed(tenant_id: str, subscription_id: str, sealed: str) -> str:
    """The secret inside `sealed`; raises if it was sealed for another tenant or subscription."""
    secret = kms_encryption.decrypt(sealed, key_setting=KEY_SETTING, context=_context(tenant_id, subscription_id))
    if not isinstance(secret, str):
        raise ValueError("a sealed webhook secret must hold a string")
    return secret
