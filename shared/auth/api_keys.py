"""API keys: generated once, shown once, stored as a SHA-256 hash with a lookup id.

Key format: `co_<lookup>_<secret>`. The lookup id finds the row (through the `by_key_id` index);
the hash of the whole key proves possession. Keys are 256-bit random, so a fast hash suffices.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from pynamodb.attributes import UnicodeAttribute, UnicodeSetAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from shared.ids import new_ulid
from shared.persistence import BaseMeta, get_or_none

_KEY_PATTERN = re.compile(r"co_([0-9a-z]{26})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class GeneratedKey:
    key_id: str
    plaintext: str
    secret_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_api_key() -> GeneratedKey:
    lookup = new_ulid()
    plaintext = f"co_{lookup}_{secrets.token_urlsafe(32)}"
    return GeneratedKey(key_id=f"key_{lookup}", plaintext=plaintext, secret_hash=hash_key(plaintext))


def key_id_of(plaintext: str) -> str | None:
    """The key id a presented key claims, or None if it is not shaped like one of ours."""
    match = _KEY_PATTERN.fullmatch(plaintext)
    return f"key_{match.group(1)}" if match else None


def hash_matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), secret_hash)


class ByKeyIdIndex(GlobalSecondaryIndex["ApiKeyRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_key_id"
        projection = KeysOnlyProjection()

    key_id = UnicodeAttribute(hash_key=True)


class ApiKeyRecord(Model):
    class Meta(BaseMeta):
        table_setting = "api_keys_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    scopes = UnicodeSetAttribute()
    secret_hash = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)

    by_key_id = ByKeyIdIndex()


def find_key(plaintext: str) -> ApiKeyRecord | None:
    """The live record for a presented key: index lookup, then a consistent read of the row so
    a revocation takes effect on the very next request."""
    key_id = key_id_of(plaintext)
    if key_id is None:
        return None
    hit = next(iter(ApiKeyRecord.by_key_id.query(key_id, limit=1)), None)
    if hit is None:
        return None
    try:
        record = ApiKeyRecord.get(hit.tenant_id, key_id, consistent_read=True)
    except ApiKeyRecord.DoesNotExist:
        return None
    if record.revoked_at is not None or not hash_matches(plaintext, record.secret_hash):
        return None
    return record


def list_keys(tenant_id: str) -> list[ApiKeyRecord]:
    return list(ApiKeyRecord.query(tenant_id))


def get_key(tenant_id: str, key_id: str) -> ApiKeyRecord | None:
    return get_or_none(ApiKeyRecord, tenant_id, key_id)
