"""HTTP idempotency for money-moving endpoints, on powertools' idempotency utility.

The key is (tenant, Idempotency-Key header), so tenants cannot collide; the payload hash is
validated, so reusing a key with a different body is a 422; a duplicate arriving while the
first is still running is a 409. A failed operation releases its key so the client can retry.

The records live in DynamoDB in powertools' own layout, written through botocore by
`BotocoreDynamoDBStore`: powertools' DynamoDB store imports boto3 and s3transfer, about a quarter
of an API function's cold start, for calls botocore makes as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws_clients import aws_client
from shared.config import get_settings
from shared.errors import Conflict, DependencyUnavailable, ValidationFailed
from shared.light_imports import import_without_package_init

# powertools' idempotency package __init__ imports its boto3 store: register the package bare, then
# import the modules we use.
import_without_package_init("aws_lambda_powertools.utilities.idempotency", "config")
from aws_lambda_powertools.utilities.idempotency import exceptions as _exceptions  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: E402
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.idempotency import idempotent_function  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord  # noqa: E402

JsonDict = dict[str, Any]


@lru_cache(maxsize=1)
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[tenant_id, idempotency_key]",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
    )


class BotocoreDynamoDBStore(BasePersistenceLayer):
    """powertools' idempotency records in DynamoDB (its attribute names and conditions: key `id`,
    `expiration`, `in_progress_expiration`, `status`, `data`, `validation`), through botocore."""

    def __init__(self, table_name: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.table_name = table_name

    def _key(self, idempotency_key: str) -> dict[str, Any]:
        return {"id": {"S": idempotency_key}}

    def _record(self, item: dict[str, Any]) -> Any:
        def text(name: str) -> str:
            return str(item[name]["S"]) if name in item else ""

        def number(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        # Absent text attributes read as "", as powertools' own store has them.
        return DataRecord(
            idempotency_key=item["id"]["S"],
            status=text("status"),
            expiry_timestamp=number("expiration"),
            in_progress_expiry_timestamp=number("in_progress_expiration"),
            response_data=text("data"),
            payload_hash=text("validation"),
        )

    def _get_record(self, idempotency_key: str) -> Any:
        response = aws_client("dynamodb").get_item(
            TableName=self.table_name, Key=self._key(idempotency_key), ConsistentRead=True
        )
        if "Item" not in response:
            raise _exceptions.IdempotencyItemNotFoundError
        return self._record(response["Item"])

    def _put_record(self, data_record: Any) -> None:
        from botocore.exceptions import ClientError

        item: dict[str, Any] = {
            **self._key(data_record.idempotency_key),
            "expiration": {"N": str(data_record.expiry_timestamp)},
            "status": {"S": data_record.status},
        }
        if data_record.in_progress_expiry_timestamp is not None:
            item["in_progress_expiration"] = {"N": str(data_record.in_progress_expiry_timestamp)}
        if self.payload_validation_enabled and data_record.payload_hash:
            item["validation"] = {"S": data_record.payload_hash}
        now = time.time()
        try:
            # Free to take: no record, an expired one, or one in progress whose Lambda timed out.
            aws_client("dynamodb").put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND "
                    "attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_ms)"
                ),
                ExpressionAttributeNames={
                    "#id": "id",
                    "#expiry": "expiration",
                    "#status": "status",
                    "#in_progress_expiry": "in_progress_expiration",
                },
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":inprogress": {"S": "INPROGRESS"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            if old is None:
                raise _exceptions.IdempotencyItemAlreadyExistsError from exc
            existing = self._record(old)
            self._validate_payload(data_payload=data_record, stored_data_record=existing)
            self._save_to_cache(data_record=existing)
            raise _exceptions.IdempotencyItemAlreadyExistsError(old_data_record=existing) from exc

    def _update_record(self, data_record: Any) -> None:
        names = {"#data": "data", "#expiry": "expiration", "#status": "status"}
        values: dict[str, Any] = {
            ":data": {"S": data_record.response_data},
            ":expiry": {"N": str(data_record.expiry_timestamp)},
            ":status": {"S": data_record.status},
        }
        expression = "SET #data = :data, #expiry = :expiry, #status = :status"
        if self.payload_validation_enabled:
            expression += ", #validation = :validation"
            names["#validation"] = "validation"
            values[":validation"] = {"S": data_record.payload_hash}
        aws_client("dynamodb").update_item(
            TableName=self.table_name,
            Key=self._key(data_record.idempotency_key),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def _delete_record(self, data_record: Any) -> None:
        aws_client("dynamodb").delete_item(TableName=self.table_name, Key=self._key(data_record.idempotency_key))


@lru_cache(maxsize=1)
def _persistence() -> BotocoreDynamoDBStore:
    return BotocoreDynamoDBStore(table_name=get_settings().idempotency_table)


def register_lambda_context(context: LambdaContext) -> None:
    """Lets powertools expire in-progress records when the invocation would time out."""
    idempotency_config().register_lambda_context(context)


def run_once(
    operation: str,
    *,
    tenant_id: str,
    idempotency_key: str,
    payload: JsonDict,
    action: Callable[[], JsonDict],
) -> JsonDict:
    """Run `action` at most once per (operation, tenant, key); replay its stored result after."""

    def _action(request: JsonDict) -> JsonDict:
        return action()

    _run: Callable[..., JsonDict] = idempotent_function(
        data_keyword_argument="request",
        persistence_store=_persistence(),
        config=idempotency_config(),
        key_prefix=f"co.{operation}",
    )(_action)

    request = {"tenant_id": tenant_id, "idempotency_key": idempotency_key, "payload": payload}
    try:
        result: JsonDict = _run(request=request)
    except IdempotencyValidationError as exc:
        raise ValidationFailed(
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry later",
            code="request_in_progress",
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        raise DependencyUnavailable("idempotency store unavailable") from exc
    return result
