"""The PaperAccounts table: the paper exchange's balances and orders (shared.exchange.paper).
Data access for it lives here only."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.persistence import BaseMeta, connection, get_or_none


class PaperRecord(Model):
    """One row per balance (`bal#USDT`), order (`ord#<client order id>`) or open-order pointer
    (`open#<client order id>`) of a tenant's paper account; `data` is JSON with decimal strings."""

    class Meta(BaseMeta):
        table_setting = "paper_accounts_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute()
    version = VersionAttribute()

    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.data)
        return loaded


def balance_rows(tenant_id: str) -> dict[str, PaperRecord]:
    """The account's balance rows by asset (one consistent Query)."""
    return {
        r.item[4:]: r for r in PaperRecord.query(tenant_id, PaperRecord.item.startswith("bal#"), consistent_read=True)
    }


def create_balances(tenant_id: str, balances: dict[str, str]) -> None:
    """Write starting balance rows (data JSON by asset) that do not exist yet; a row another
    invocation created first is kept."""
    for asset, data in balances.items():
        row = PaperRecord(tenant_id=tenant_id, item=f"bal#{asset}", data=data)
        with contextlib.suppress(PutError):
            row.save(condition=PaperRecord.item.does_not_exist())


def order_and_balances(
    tenant_id: str, client_order_id: str, assets: Iterable[str]
) -> tuple[PaperRecord | None, dict[str, PaperRecord]]:
    """The order row of a client id and the named assets' balance rows that exist, in one
    consistent BatchGetItem (what placing an order reads: one round trip instead of two)."""
    keys = [(tenant_id, f"ord#{client_order_id}"), *((tenant_id, f"bal#{asset}") for asset in sorted(set(assets)))]
    order: PaperRecord | None = None
    balances: dict[str, PaperRecord] = {}
    for row in PaperRecord.batch_get(keys, consistent_read=True):
        if row.item.startswith("ord#"):
            order = row
        else:
            balances[row.item[4:]] = row
    return order, balances


def order_row(tenant_id: str, client_order_id: str) -> PaperRecord | None:
    return get_or_none(PaperRecord, tenant_id, f"ord#{client_order_id}")


def open_order_ids(tenant_id: str) -> list[str]:
    """Client ids of the orders with an open pointer row (never reads the closed orders)."""
    pointers = PaperRecord.query(tenant_id, PaperRecord.item.startswith("open#"), consistent_read=True)
    return [pointer.item[5:] for pointer in pointers]


def save_together(tenant_id: str, rows: list[PaperRecord], new: PaperRecord | None = None) -> None:
    """Save balance and order rows in one transaction; version checks catch concurrent writers
    (TransactWriteError). An open order also gets its pointer row (`open#<client id>`), a closed
    one loses it."""
    with TransactWrite(connection=connection()) as tx:
        if new is not None:
            tx.save(new, condition=PaperRecord.item.does_not_exist())
        for row in rows:
            tx.save(row)
        for row in [r for r in (new, *rows) if r is not None and r.item.startswith("ord#")]:
            pointer = PaperRecord(tenant_id=tenant_id, item="open#" + row.item[4:], data="{}")
            if row.payload()["status"] == "open":
                tx.save(pointer, condition=PaperRecord.item.does_not_exist() if row is new else None)
            elif row is not new:
                tx.delete(pointer, add_version_condition=False)
