"""Typed settings, read once from the environment.

Every function builds one `Settings` from its environment (template.yaml sets it on
AWS, the local cloud sets it on a laptop). Nothing else in the code reads os.environ.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured; a programming or ops error, never a client error."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    stage: Literal["local", "test", "dev", "prod"] = "dev"
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )

    tenants_table: str = "Tenants"
    users_table: str = "Users"
    api_keys_table: str = "ApiKeys"
    bots_table: str = "Bots"
    events_table: str = "Events"
    idempotency_table: str = "Idempotency"
    event_bus_name: str = "default"
    event_source: str = "cryptoorchestrator"

    # Either the secret itself (local runs, tests) or the ARN of a Secrets Manager secret (AWS).
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "cryptoorchestrator"
    jwt_audience: str = "cryptoorchestrator-api"
    jwt_ttl_seconds: int = Field(default=900, ge=60, le=86400)

    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)

    idempotency_ttl_seconds: int = Field(default=86400, ge=60)
    events_retention_days: int = Field(default=30, ge=1)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
