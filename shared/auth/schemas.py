"""Request and response shapes for signup, login and API keys."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from shared.inputs import Name, RequestModel

# The same pattern is the OpenAPI's; control characters (C0 and C1) are spelled out because
# Python's \s counts some of them as spaces and JSON Schema's does not.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$")


def _normalize_email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[
    str,
    AfterValidator(_normalize_email),
    Field(json_schema_extra={"pattern": _EMAIL.pattern, "maxLength": 254}, description="Case-insensitive."),
]
Password = Annotated[str, StringConstraints(min_length=12, max_length=128)]
DisplayName = Name
ScopeName = Literal["read", "trade", "admin"]


class _Request(RequestModel):
    model_config = ConfigDict(str_max_length=1024)


class SignupRequest(_Request):
    email: Email
    password: Password
    tenant_name: DisplayName | None = Field(default=None, description="Defaults to the email's domain.")


class TenantOut(BaseModel):
    id: str
    name: str
    plan: str
    created_at: str


class UserOut(BaseModel):
    id: str
    email: str
    role: str


class SignupResponse(BaseModel):
    tenant: TenantOut
    user: UserOut


class InvitationCreate(_Request):
    email: Email
    role: Literal["admin", "member"] = "member"


class InvitationCreated(BaseModel):
    id: str
    email: str
    role: str
    expires_at: str
    token: str = Field(description="Shown once: the invitee accepts with it. Stored only as a hash.")


class InvitationAccept(_Request):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Password


class InvitationAccepted(BaseModel):
    tenant_id: str
    user: UserOut


class LoginRequest(_Request):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


def _read_only() -> list[ScopeName]:
    return ["read"]


class ApiKeyCreate(_Request):
    name: DisplayName
    scopes: list[ScopeName] = Field(default_factory=_read_only, min_length=1, max_length=3)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The API key. Shown only in this response; store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
