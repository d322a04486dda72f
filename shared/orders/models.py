"""The Orders table: the intent row is the order. Data access for it lives here only.

Two sparse indexes exist only while an order is not terminal: `reconcile` (every open order
of every tenant, sharded, for the reconciler) and `open_by_scope` (a bot's or the manual desk's
open orders, for the max-open-orders rule). `by_client_order_id` maps exchange-side ids back.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.money import decimal_text
from shared.orders.states import TERMINAL, OrderStatus
from shared.persistence import BaseMeta, get_or_none

RECONCILE_SHARDS = 4


class ReconcileIndex(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "reconcile"
        projection = KeysOnlyProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class OpenByScopeIndex(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "open_by_scope"
        projection = KeysOnlyProjection()

    open_scope = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class ByClientOrderIdIndex(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_client_order_id"
        projection = KeysOnlyProjection()

    client_order_id = UnicodeAttribute(hash_key=True)


class ByCreatedIndex(LocalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OrderRecord(Model):
    class Meta(BaseMeta):
        table_setting = "orders_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)
    created_key = UnicodeAttribute()  # "<created_at iso>#<order_id>", for newest-first listing
    source = UnicodeAttribute()  # "manual" or the bot id
    intent_id = UnicodeAttribute()
    bot_id = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute()
    exchange = UnicodeAttribute()
    symbol = UnicodeAttribute()
    side = UnicodeAttribute()
    type = UnicodeAttribute()
    amount = UnicodeAttribute()
    price = UnicodeAttribute(null=True)
    stop_loss = UnicodeAttribute(null=True)
    take_profit = UnicodeAttribute(null=True)
    client_order_id = UnicodeAttribute()
    exchange_order_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    filled = UnicodeAttribute(default="0")
    cost = UnicodeAttribute(default="0")
    fee_cost = UnicodeAttribute(default="0")
    fee_currency = UnicodeAttribute(null=True)
    fills_json = UnicodeAttribute(default="[]")
    reason = UnicodeAttribute(null=True)
    cancel_requested = BooleanAttribute(default=False)
    submit_attempts = NumberAttribute(default=0)
    not_found_count = NumberAttribute(default=0)  # counted misses: each spaced from the previous
    last_miss_at = UTCDateTimeAttribute(null=True)  # when the last counted miss happened
    not_placed_at = UTCDateTimeAttribute(null=True)
    watch_until = UTCDateTimeAttribute(null=True)  # a NOT_PLACED order is looked up until then
    last_lookup_at = UTCDateTimeAttribute(null=True)  # last lookup of a NOT_PLACED order
    request_digest = UnicodeAttribute(null=True)  # sha256 of the canonical request: intent reuse check
    submit_started_at = UTCDateTimeAttribute(null=True)
    submit_deadline = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    open_shard = UnicodeAttribute(null=True)
    open_scope = UnicodeAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)  # last submit task sent; None: its send failed
    protection = UnicodeAttribute(null=True)  # "stop_loss" or "take_profit" once one triggered
    exit_order_id = UnicodeAttribute(null=True)
    # The last sequence of this order's events as of this version (None on rows older than it):
    # lets a commit skip reading the order's event counter (shared.events.sequences).
    event_sequence = NumberAttribute(null=True)
    version = VersionAttribute()

    reconcile = ReconcileIndex()
    open_by_scope = OpenByScopeIndex()
    by_client_order_id = ByClientOrderIdIndex()
    by_created = ByCreatedIndex()

    # ------------------------------------------------------------------ typed views
    @property
    def state(self) -> OrderStatus:
        return OrderStatus(self.status)

    def decimal(self, name: str) -> Decimal | None:
        value = getattr(self, name)
        return None if value is None else Decimal(value)

    def average_price_text(self) -> str | None:
        filled = Decimal(self.filled)
        return decimal_text(Decimal(self.cost) / filled) if filled else None

    def fills(self) -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = json.loads(self.fills_json)
        return loaded

    @property
    def watched_after_not_placed(self) -> bool:
        """Declared NOT_PLACED but still looked up, in case the exchange only lagged."""
        return self.state is OrderStatus.NOT_PLACED and self.watch_until is not None

    @property
    def guards_position(self) -> bool:
        """A filled order whose stop-loss / take-profit still watches the market."""
        return (
            self.state is OrderStatus.FILLED
            and (self.stop_loss is not None or self.take_profit is not None)
            and self.protection is None
        )

    def set_status(self, status: OrderStatus) -> None:
        """Also keeps the sparse indexes in step: non-terminal orders are in both; a filled order
        with an untriggered stop-loss or take-profit, and a NOT_PLACED order still watched for a
        late appearance, stay in `reconcile`, which looks after them."""
        self.status = status.value
        shard = f"open-{zlib.crc32(self.order_id.encode()) % RECONCILE_SHARDS}"
        if status in TERMINAL:
            self.open_shard = shard if self.guards_position or self.watched_after_not_placed else None
            self.open_scope = None
        else:
            self.open_shard = shard
            self.open_scope = scope_key(self.tenant_id, self.bot_id)


class DriftMarkerRecord(Model):
    """In the Orders table: "this exchange order was reported as drift", so it is reported once.

    Its sort key (`drift#<account>#<exchange order id>`) never collides with an order id, and it
    carries none of the indexed attributes, so no order listing or index ever sees it."""

    class Meta(BaseMeta):
        table_setting = "orders_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


def stage_drift_marker(tx: TransactWrite, tenant_id: str, account_id: str, exchange_order_id: str) -> None:
    """Fails the caller's transaction if this drift was reported before."""
    marker = DriftMarkerRecord(tenant_id=tenant_id, order_id=f"drift#{account_id}#{exchange_order_id}")
    tx.save(marker, condition=DriftMarkerRecord.order_id.does_not_exist())


def scope_key(tenant_id: str, bot_id: str | None) -> str:
    return f"{tenant_id}#{bot_id or 'manual'}"


def get_order(tenant_id: str, order_id: str) -> OrderRecord | None:
    return get_or_none(OrderRecord, tenant_id, order_id)


def list_orders(tenant_id: str, *, limit: int, after: str | None) -> tuple[list[OrderRecord], bool]:
    """Newest first, one Query on the `by_created` local index."""
    condition = OrderRecord.created_key < after if after else None
    rows = list(OrderRecord.by_created.query(tenant_id, condition, scan_index_forward=False, limit=limit + 1))
    return rows[:limit], len(rows) > limit


def list_open_orders(tenant_id: str) -> list[OrderRecord]:
    """The tenant's orders still in the reconcile index (not terminal, or watched)."""
    return list(OrderRecord.query(tenant_id, filter_condition=OrderRecord.open_shard.exists()))


def count_open_orders(tenant_id: str, bot_id: str | None, exclude: str) -> int:
    """Open orders of one bot (or of the manual desk), apart from `exclude` (one Query)."""
    return sum(1 for row in OrderRecord.open_by_scope.query(scope_key(tenant_id, bot_id)) if row.order_id != exclude)


def open_orders_of_scope(tenant_id: str, bot_id: str | None) -> list[OrderRecord]:
    """The open orders of one bot (or of the manual desk), whole: one Query on the keys-only
    `open_by_scope` index, then one BatchGetItem per hundred orders."""
    keys = [(tenant_id, row.order_id) for row in OrderRecord.open_by_scope.query(scope_key(tenant_id, bot_id))]
    return list(OrderRecord.batch_get(keys)) if keys else []


def orders_to_reconcile() -> Iterator[tuple[str, str]]:
    """(tenant_id, order_id) of every non-terminal order."""
    for shard in range(RECONCILE_SHARDS):
        for row in OrderRecord.reconcile.query(f"open-{shard}"):
            yield row.tenant_id, row.order_id


def find_by_client_order_id(client_order_id: str) -> tuple[str, str] | None:
    hit = next(iter(OrderRecord.by_client_order_id.query(client_order_id, limit=1)), None)
    return None if hit is None else (hit.tenant_id, hit.order_id)
