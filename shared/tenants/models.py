"""The Tenants table."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
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
    # Tenant-wide risk settings (shared.risk).
    kill_switch = BooleanAttribute(default=False)
    symbol_allowlist = UnicodeAttribute(null=True)  # JSON list of symbols; absent: any symbol
    max_price_deviation_pct = UnicodeAttribute(null=True)


def get_tenant(tenant_id: str) -> TenantRecord | None:
    try:
        return TenantRecord.get(tenant_id, consistent_read=True)
    except TenantRecord.DoesNotExist:
        return None
