"""The Users table: one row per login, keyed by normalized email."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta


class UserRecord(Model):
    class Meta(BaseMeta):
        table_name = get_settings().users_table

    email = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    role = UnicodeAttribute(default="owner")
    created_at = UTCDateTimeAttribute()
    failed_logins = NumberAttribute(default=0)
    locked_until = UTCDateTimeAttribute(null=True)


def find_user(email: str) -> UserRecord | None:
    try:
        return UserRecord.get(email, consistent_read=True)
    except UserRecord.DoesNotExist:
        return None
