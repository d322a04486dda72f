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


def stage_kill_switch_released(tx: TransactWrite, tenant_id: str) -> None:
    """Fails the caller's transaction while the tenant's kill switch is engaged."""
    tx.condition_check(
        TenantRecord,
        tenant_id,
        condition=TenantRecord.kill_switch.does_not_exist() | (TenantRecord.kill_switch == False),  # noqa: E712
    )


def stage_tenant_update(tx: TransactWrite, tenant: TenantRecord, actions: list[Action]) -> None:
    """Change a tenant's attributes inside the caller's transaction (with its events)."""
    tx.update(tenant, actions=actions, condition=TenantRecord.tenant_id.exists())
