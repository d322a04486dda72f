"""Secrets at rest: KMS envelope encryption through powertools' data masking utility and the AWS
Encryption SDK (a data key per message, AES-GCM, key commitment), bound to an encryption
context, so a blob decrypts only for the row it belongs to. Exchange credentials and webhook
signing secrets both go through here, each under its own key (one mechanism, two keys: a
function allowed to decrypt one kind of secret cannot decrypt the other).

The SDK is imported on first use, never at cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from shared.config import get_settings
from shared.errors import ConfigurationError


@lru_cache(maxsize=4)
def _masking(key_setting: str) -> Any:
    from aws_lambda_powertools.utilities.data_masking import DataMasking
    from aws_lambda_powertools.utilities.data_masking.provider.kms.aws_encryption_sdk import (
        AWSEncryptionSDKProvider,
    )

    key_arn = str(getattr(get_settings(), key_setting))
    if not key_arn:
        raise ConfigurationError(f"{key_setting.upper()} must be configured")
    return DataMasking(provider=AWSEncryptionSDKProvider(keys=[key_arn]))


def encrypt(data: Any, *, key_setting: str, context: Mapping[str, str]) -> str:
    """A base64 blob of `data` (JSON-serialisable) under the key named by the setting `key_setting`."""
    blob: str = _masking(key_setting).encrypt(data, **context)
    return blob


def decrypt(blob: str, *, key_setting: str, context: Mapping[str, str]) -> Any:
    """Raises (DataMaskingContextMismatchError) when the blob was encrypted under another context."""
    return _masking(key_setting).decrypt(blob, **context)
