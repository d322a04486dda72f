"""The Users table: one row per login, keyed by normalized email."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.persistence import BaseMeta, get_or_none


class UserRecord(Model):
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
