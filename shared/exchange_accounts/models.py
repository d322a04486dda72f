"""The ExchangeAccounts table and its data access."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.errors import NotFound
from shared.persistence import BaseMeta, get_or_none

PAPER_ACCOUNT_ID = "paper"


class ExchangeAccountRecord(Model):
    class Meta(BaseMeta):
        table_setting = "exchange_accounts_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(range_key=True)
    exchange = UnicodeAttribute()
    label = UnicodeAttribute()
    sandbox = BooleanAttribute(default=False)
    status = UnicodeAttribute(default="active")
    key_last4 = UnicodeAttribute()
    credentials = UnicodeAttribute()  # encrypted; see shared.exchange_accounts.credentials
    created_at = UTCDateTimeAttribute()

    def __repr__(self) -> str:
        return f"ExchangeAccountRecord({self.tenant_id}, {self.account_id}, {self.exchange})"


def get_account_record(tenant_id: str, account_id: str) -> ExchangeAccountRecord | None:
    return get_or_none(ExchangeAccountRecord, tenant_id, account_id)


def list_account_records(tenant_id: str) -> list[ExchangeAccountRecord]:
    return list(ExchangeAccountRecord.query(tenant_id))


def ensure_account(tenant_id: str, account_id: str) -> None:
    """404 unless the tenant owns this account (or it is the built-in paper account)."""
    exchange_of_account(tenant_id, account_id)


def exchange_of_account(tenant_id: str, account_id: str) -> str:
    """The exchange id an account trades on (`paper` for the paper account); 404 like `ensure_account`."""
    if account_id == PAPER_ACCOUNT_ID:
        return "paper"
    record = get_account_record(tenant_id, account_id)
    if record is None or record.status != "active":
        raise NotFound(
            "no such exchange account", code="exchange_account_not_found", details={"exchange_account_id": account_id}
        )
    return record.exchange
