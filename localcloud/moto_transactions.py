"""DynamoDB TransactWriteItems on moto, made atomic, serialized and independent of table size.

moto 5.2.5 deep-copies every table a transaction touches to be able to roll back, so each
transaction costs time proportional to the size of those tables (about 45 ms on an empty table,
390 ms at 2,000 rows), a copy taken while another request thread writes to the table fails with
"dictionary changed size during iteration", and a rollback puts the whole copy back, undoing
whatever other requests wrote meanwhile. Here every DynamoDB request is handled under one lock
(DynamoDB isolates a transaction from single-item reads and writes; moto also serializes items
it may be changing in another thread), and a transaction checks every condition before writing
anything and, if a write fails, restores only the items it touched. Errors keep moto's shapes:
ValidationException for malformed requests, TransactionCanceledException with one
CancellationReason per item otherwise.

Dev-only: the local cloud and the test harness install it (`install()`, through
`localcloud.cloud.start_aws_endpoint`); deployed code never imports it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.dynamodb.models import DynamoDBBackend

# One lock for every DynamoDB request in this process: moto serves them from Python threads
# under one GIL and does no I/O while answering, so a finer lock would buy nothing.
_LOCK = threading.RLock()
_ORIGINALS: dict[str, Callable[..., Any]] = {}

Reason = tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]
_NO_ERROR: Reason = (None, None, None)
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


def install() -> None:
    """Replace moto's TransactWriteItems in this process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    if _ORIGINALS:
        return
    _ORIGINALS["call_action"] = DynamoHandler.call_action
    _ORIGINALS["transact_write_items"] = DynamoDBBackend.transact_write_items
    DynamoHandler.call_action = _serialized(DynamoHandler.call_action)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign, assignment]


def uninstall() -> None:
    """Put moto's own methods back (the benchmark measures both in one run)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    if _ORIGINALS:
        DynamoHandler.call_action = _ORIGINALS.pop("call_action")  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items = _ORIGINALS.pop("transact_write_items")  # type: ignore[method-assign]


def installed() -> bool:
    return bool(_ORIGINALS)


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    """The request handler, one request at a time: parsing, the backend and the serialized answer
    (which reads stored items that an update would otherwise change mid-serialization)."""

    @wraps(method)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return serialized


@dataclass
class _Write:
    """One checked item of a transaction: what to write, once every condition has passed."""

    index: int
    operation: str
    request: dict[str, Any]
    table_name: str
    key: dict[str, Any]


@dataclass
class _Snapshot:
    """An item as it was before the transaction wrote it (None: it did not exist)."""

    table: Any
    hash_key: Any
    range_key: Any
    item: Any

    def restore(self) -> None:
        items = self.table.items
        if self.range_key is None:
            if self.item is None:
                items.pop(self.hash_key, None)
            else:
                items[self.hash_key] = self.item
        elif self.item is None:
            items[self.hash_key].pop(self.range_key, None)
        else:
            items[self.hash_key][self.range_key] = self.item


def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """DynamoDBBackend.transact_write_items: check everything, then write everything, or nothing.

    Conditions are evaluated before any write; that equals moto's item-by-item order because an
    item may appear only once per transaction and a condition reads only its own item. A
    malformed write (ValidationException) is found only when every condition passed, where moto
    finds it whenever that item's own condition passed.
    """
    from moto.dynamodb.exceptions import TooManyTransactionsException, TransactionCanceledException

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        seen: set[tuple[str, str]] = set()
        checked = [_check(backend, index, item, seen) for index, item in enumerate(transact_items)]
        reasons = [reason for _, reason in checked]
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        _write_all(backend, [write for write, _ in checked if write is not None], reasons)


def _check(
    backend: DynamoDBBackend, index: int, item: dict[str, Any], seen: set[tuple[str, str]]
) -> tuple[_Write | None, Reason]:
    """Validate one item and evaluate its condition, as moto's loop does before it writes."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TransactWriteSingleOpException,
    )

    if len(item) > 1:
        raise TransactWriteSingleOpException
    old_image: dict[str, Any] | None = None
    try:
        operation, request = next(iter(item.items()))
        if operation not in _OPERATIONS:
            raise ValueError("Unsupported transaction operation")
        table_name = request["TableName"]
        if operation == "Put":
            table = backend.get_table(table_name)
            attributes = request["Item"]
            key = {table.hash_key_attr: attributes[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attributes[table.range_key_attr]
        else:
            key = request["Key"]
        identity = (str(table_name), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = backend.get_item(table_name, key)
        condition = request.get("ConditionExpression")
        if condition is not None:
            expression = get_filter_expression(
                condition, request.get("ExpressionAttributeNames"), request.get("ExpressionAttributeValues")
            )
            if not expression.expr(current):
                if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old_image = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=old_image)
        return _Write(index, operation, request, table_name, key), _NO_ERROR
    except MockValidationException:
        raise
    except ConditionalCheckFailed as failed:
        return None, ("ConditionalCheckFailed", str(failed.message), old_image)
    except Exception as error:  # moto reports any other failure as that item's reason
        return None, (type(error).__name__, str(error), None)


def _write_all(backend: DynamoDBBackend, writes: list[_Write], reasons: list[Reason]) -> None:
    """Apply the writes; if one fails, put back every item written so far and report it."""
    from moto.dynamodb.exceptions import MockValidationException, TransactionCanceledException

    snapshots: list[_Snapshot] = []
    try:
        for write in writes:
            if write.operation == "ConditionCheck":
                continue
            snapshots.append(_snapshot(backend, write))
            try:
                _apply(backend, write)
            except MockValidationException:
                raise
            except Exception as error:  # as moto: the item's reason, the others still run
                reasons[write.index] = (type(error).__name__, str(error), None)
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
    except BaseException:
        for snapshot in reversed(snapshots):
            snapshot.restore()
        raise


def _snapshot(backend: DynamoDBBackend, write: _Write) -> _Snapshot:
    table = backend.get_table(write.table_name)
    hash_key, range_key = backend.get_keys_value(table, write.key)
    # Updates change the stored item in place, so keep a copy, not a reference.
    return _Snapshot(table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key)))


def _apply(backend: DynamoDBBackend, write: _Write) -> None:
    """The write itself; its condition was checked already, under the same lock."""
    request = write.request
    if write.operation == "Put":
        backend.put_item(write.table_name, request["Item"])
    elif write.operation == "Delete":
        backend.delete_item(write.table_name, write.key)
    else:
        backend.update_item(
            write.table_name,
            write.key,
            update_expression=request["UpdateExpression"],
            expression_attribute_names=request.get("ExpressionAttributeNames") or {},
            expression_attribute_values=request.get("ExpressionAttributeValues") or {},
        )
