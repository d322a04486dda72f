"""Credential encryption: KMS envelope encryption through powertools' data masking utility and
the AWS Encryption SDK (a data key per message, AES-GCM, key commitment), bound to the
encryption context {tenant_id, account_id}: a blob decrypts only for the account it belongs to.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from shared.config import get_settings
from shared.errors import ConfigurationError
from shared.exchange.ccxt_adapter import Credentials


@lru_cache(maxsize=1)
def _masking() -> Any:
    from aws_lambda_powertools.utilities.data_masking import DataMasking
    from aws_lambda_powertools.utilities.data_masking.provider.kms.aws_encryption_sdk import (
        AWSEncryptionSDKProvider,
    )

    key_arn = get_settings().credentials_key_arn
    if not key_arn:
        raise ConfigurationError("CREDENTIALS_KEY_ARN must be configured")
    return DataMasking(provider=AWSEncryptionSDKProvider(keys=[key_arn]))


def encrypt_credentials(tenant_id: str, account_id: str, credentials: Credentials) -> str:
    plain = {"api_key": credentials.api_key, "secret": credentials.secret, "password": credentials.password}
    blob: str = _masking().encrypt(plain, tenant_id=tenant_id, account_id=account_id)
    return blob


def decrypt_credentials(tenant_id: str, account_id: str, blob: str) -> Credentials:
    """Raises if the blob was encrypted for another tenant or account."""
    plain: dict[str, Any] = _masking().decrypt(blob, tenant_id=tenant_id, account_id=account_id)
    return Credentials(api_key=plain["api_key"], secret=plain["secret"], password=plain.get("password"))
