"""The Tenants table."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.persistence import BaseMeta, get_or_none


class TenantRecord(Model):
    class Meta(BaseMeta):
        table_setting = "tenants_table"

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
    return get_or_none(TenantRecord, tenant_id)


def stage_tenant_update(tx: TransactWrite, tenant: TenantRecord, actions: list[Action]) -> None:
    """Change a tenant's attributes inside the caller's transaction (with its events)."""
    tx.update(tenant, actions=actions, condition=TenantRecord.tenant_id.exists())
