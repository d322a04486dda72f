"""Credential encryption: KMS envelope encryption (shared.kms_encryption) under the credentials
key, bound to the encryption context {tenant_id, account_id}: a blob decrypts only for the
account it belongs to.
"""

from __future__ import annotations

from typing import Any

from shared import kms_encryption
from shared.exchange.ccxt_adapter import Credentials

KEY_SETTING = "credentials_key_arn"


def encrypt_credentials(tenant_id: str, account_id: str, credentials: Credentials) -> str:
    plain = {"api_key": credentials.api_key, "secret": credentials.secret, "password": credentials.password}
    return kms_encryption.encrypt(
        plain, key_setting=KEY_SETTING, context={"tenant_id": tenant_id, "account_id": account_id}
    )


def decrypt_credentials(tenant_id: str, account_id: str, blob: str) -> Credentials:
    """Raises if the blob was encrypted for another tenant or account."""
    plain: dict[str, Any] = kms_encryption.decrypt(
        blob, key_setting=KEY_SETTING, context={"tenant_id": tenant_id, "account_id": account_id}
    )
    return Credentials(api_key=plain["api_key"], secret=plain["secret"], password=plain.get("password"))
