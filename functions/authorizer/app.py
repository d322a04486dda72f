"""API Gateway REQUEST authorizer: a JWT or an API key in, tenant context out.

Accepts `Authorization: Bearer <jwt or API key>` or `X-Api-Key: <API key>`. Anything else is
401 (raising "Unauthorized" is how API Gateway is told). The allow policy covers the whole
stage so a cached decision stays valid across routes.
"""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    parse_api_gateway_arn,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.auth import authentication
from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.observability import logger, tracer

API_KEY_PREFIX = "co_"


def _credential(headers: dict[str, str]) -> tuple[str, str] | None:
    """The one credential a request carries. Two that disagree (an API key and a different bearer
    token) are refused rather than one silently preferred."""
    lowered = {k.lower(): v for k, v in headers.items() if isinstance(v, str)}
    api_key = lowered.get("x-api-key", "").strip()
    authorization = lowered.get("authorization", "").strip()
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    bearer = value if scheme.lower() == "bearer" and value else None
    if api_key and authorization and bearer != api_key:
        raise Unauthorized("send one credential: X-Api-Key or Authorization, not two different ones")
    if api_key:
        return "api_key", api_key
    if bearer is None:
        return None
    return ("api_key", bearer) if bearer.startswith(API_KEY_PREFIX) else ("jwt", bearer)


def authenticate(headers: dict[str, str]) -> Principal:
    credential = _credential(headers)
    if credential is None:
        raise Unauthorized("missing credentials")
    kind, value = credential
    if kind == "api_key":
        return authentication.authenticate_api_key(value)
    return authentication.authenticate_bearer_token(value)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        principal = authenticate(event.get("headers") or {})
    except Unauthorized as exc:
        logger.info("request denied", extra={"reason": exc.message})
        raise Exception("Unauthorized") from None
    arn = parse_api_gateway_arn(event["methodArn"])
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal.principal_id,
        context=principal.to_authorizer_context(),
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
    )
    policy.allow_all_routes()
    logger.append_keys(tenant_id=principal.tenant_id)
    return policy.asdict()


init_phase.complete()
