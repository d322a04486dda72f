"""The Tenants table."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.config import get_settings
from shared.persistence import BaseMeta


class TenantRecord(Model):
    class Meta(BaseMeta):
        table_name = get_settings().tenants_table

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    plan = UnicodeAttribute(default="free")
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
