"""HTTP idempotency for money-moving endpoints, on powertools' DynamoDB idempotency utility.

The key is (tenant, Idempotency-Key header), so tenants cannot collide; the payload hash is
validated, so reusing a key with a different body is a 422; a duplicate arriving while the
first is still running is a 409. A failed operation releases its key so the client can retry.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.config import get_settings
from shared.errors import Conflict, DependencyUnavailable, ValidationFailed

JsonDict = dict[str, Any]


@lru_cache(maxsize=1)
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[tenant_id, idempotency_key]",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
    )


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


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
