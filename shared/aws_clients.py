"""The one factory for AWS service clients: botocore directly (boto3 would add ~100 ms of cold
start for nothing), the region from the settings, the endpoint resolved by botocore itself from
the standard settings (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), so the same code talks to
AWS, moto or LocalStack. Clients are created at first use and kept for the process."""

from __future__ import annotations

from functools import cache
from typing import Any

from shared.config import get_settings


@cache
def aws_client(
    service: str,
    *,
    connect_timeout: float = 2,
    read_timeout: float = 5,
    max_attempts: int = 3,
    signature_version: str | None = None,
    max_pool_connections: int = 10,
) -> Any:
    from botocore.config import Config
    from botocore.session import get_session

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        signature_version=signature_version,
        max_pool_connections=max_pool_connections,
    )
    return get_session().create_client(service, region_name=get_settings().aws_region, config=config)
