"""Auth endpoint family: signup, login and API keys."""

from __future__ import annotations

from shared import init_phase  # first: the rest of this module loads without the cyclic GC

# isort: split
from typing import Annotated

from fastapi import Depends, Path, Request, Response

from shared.auth import service
from shared.auth.principal import Principal
from shared.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    LoginRequest,
    SignupRequest,
    SignupResponse,
    TokenResponse,
)
from shared.web import PLAN_LIMIT_RESPONSES, create_app, make_lambda_handler, require_scope

app = create_app("CryptoOrchestrator auth", "Tenants, logins and API keys.")
Admin = Annotated[Principal, Depends(require_scope("admin"))]
KeyId = Annotated[str, Path(max_length=64, pattern=r"^key_[0-9a-z]{26}$")]


def _client_ip(request: Request) -> str:
    """The caller's address as API Gateway saw it (never a client-sent header like X-Forwarded-For)."""
    identity = ((request.scope.get("aws.event") or {}).get("requestContext") or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


@app.post("/auth/signup", status_code=201, tags=["auth"], openapi_extra={"security": []})
async def signup(body: SignupRequest, request: Request) -> SignupResponse:
    """Create a tenant and its owner user. An email that is taken is a 409 `email_taken`; repeated
    ones from one client are throttled like failed logins (429 `login_locked`)."""
    return service.signup(body, _client_ip(request))


@app.post("/auth/login", tags=["auth"], openapi_extra={"security": []})
async def login(body: LoginRequest, request: Request) -> TokenResponse:
    """Exchange email and password for a short-lived access token (JWT). Repeated failures from
    one client are throttled (429 `login_locked` with Retry-After); the account is never locked."""
    return service.login(body, _client_ip(request))


@app.post("/api-keys", status_code=201, tags=["api keys"])
async def create_api_key(body: ApiKeyCreate, caller: Admin) -> ApiKeyCreated:
    """Issue an API key. The key is in this response only; it is stored as a hash."""
    return service.create_api_key(caller, body)


@app.get("/api-keys", tags=["api keys"])
async def list_api_keys(caller: Admin) -> ApiKeyList:
    return service.list_api_keys(caller)


@app.delete("/api-keys/{key_id}", status_code=204, tags=["api keys"])
async def revoke_api_key(key_id: KeyId, caller: Admin) -> Response:
    """Revoke a key; it fails authorization from the next request on."""
    service.revoke_api_key(caller, key_id)
    return Response(status_code=204)


@app.post("/tenant/invitations", status_code=201, tags=["auth"], responses=PLAN_LIMIT_RESPONSES)
async def invite(body: InvitationCreate, caller: Admin) -> InvitationCreated:
    """Invite someone to this tenant as `admin` or `member` (owners and admins only). Users plus
    pending invitations may not pass the plan's seats (402 `plan_limit`). The token is in this
    response only (stored as a hash) and expires after INVITATION_TTL_HOURS."""
    return service.invite(caller, body)


@app.post("/auth/invitations/accept", status_code=201, tags=["auth"], openapi_extra={"security": []})
async def accept_invitation(body: InvitationAccept) -> InvitationAccepted:
    """Accept an invitation: creates the user (email from the invitation, this password) in the
    tenant the token belongs to. Any token that cannot be accepted is a 400 `invitation_invalid`."""
    return service.accept_invitation(body)


lambda_handler = make_lambda_handler(app)


init_phase.complete()
