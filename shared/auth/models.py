"""The Users and ApiKeys tables. Data access for both lives here only."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from shared.persistence import BaseMeta, get_or_none


class UserRecord(Model):
    """One row per login, keyed by normalized email."""

    class Meta(BaseMeta):
        table_setting = "users_table"

    email = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    role = UnicodeAttribute(default="owner")
    created_at = UTCDateTimeAttribute()
    failed_logins = NumberAttribute(default=0)
    locked_until = UTCDateTimeAttribute(null=True)


def find_user(email: str) -> UserRecord | None:
    return get_or_none(UserRecord, email)


class ByKeyIdIndex(GlobalSecondaryIndex["ApiKeyRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_key_id"
        projection = KeysOnlyProjection()

    key_id = UnicodeAttribute(hash_key=True)


class ApiKeyRecord(Model):
    """One row per API key: the hash of the key, never the key (shared.auth.api_keys)."""

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


def live_key(key_id: str) -> ApiKeyRecord | None:
    """The unrevoked row for a key id: index lookup, then a consistent read of the row so a
    revocation takes effect on the very next request."""
    hit = next(iter(ApiKeyRecord.by_key_id.query(key_id, limit=1)), None)
    if hit is None:
        return None
    record = get_or_none(ApiKeyRecord, hit.tenant_id, key_id)
    if record is None or record.revoked_at is not None:
        return None
    return record


def list_keys(tenant_id: str) -> list[ApiKeyRecord]:
    return list(ApiKeyRecord.query(tenant_id))


def get_key(tenant_id: str, key_id: str) -> ApiKeyRecord | None:
    return get_or_none(ApiKeyRecord, tenant_id, key_id)
