"""Signup, login, API key issue and revocation, and credential checks for the authorizer."""

from __future__ import annotations

from datetime import timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.auth import api_keys, invitations, login_throttle, passwords, tokens
from shared.auth.invitations import InvitationRecord
from shared.auth.models import ApiKeyRecord, UserRecord, find_user, get_key, list_keys
from shared.auth.principal import ALL_SCOPES, Principal
from shared.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    LoginRequest,
    SignupRequest,
    SignupResponse,
    TenantOut,
    TokenResponse,
    UserOut,
)
from shared.billing import entitlements
from shared.clock import isoformat, utc_now
from shared.config import get_settings
from shared.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited, Unauthorized
from shared.events.data.tenants import ApiKeyData, InvitationData, TenantCreatedData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.ids import new_id
from shared.observability import logger
from shared.persistence import condition_failed
from shared.tenants.models import TenantRecord

SOURCE = "cryptoorchestrator.auth"
# What a user's access token may do, by the user's role in its tenant.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {"owner": ALL_SCOPES, "admin": ALL_SCOPES, "member": ("read", "trade")}


def signup(request: SignupRequest, client_ip: str) -> SignupResponse:
    """Create a tenant and its owner user in one transaction; the email must be new. A taken email
    is a 409 and counts as a failure of the client's IP (shared.auth.login_throttle)."""
    now = utc_now()
    attempt = login_throttle.begin(None, client_ip)
    wait = attempt.retry_after(now)
    if wait:
        raise RateLimited(
            "too many refused signups or logins from this client; try again later",
            retry_after_seconds=wait,
            code="login_locked",
        )
    tenant = TenantRecord(
        tenant_id=new_id("ten"),
        name=request.tenant_name or request.email.split("@", 1)[1],
        plan="free",
        created_at=now,
    )
    user = UserRecord(
        email=request.email,
        user_id=new_id("usr"),
        tenant_id=tenant.tenant_id,
        password_hash=passwords.hash_password(request.password),
        role="owner",
        created_at=now,
    )
    event = new_event(
        "tenant.created",
        tenant_id=tenant.tenant_id,
        source=SOURCE,
        data=TenantCreatedData(tenant_id=tenant.tenant_id, name=tenant.name, plan=tenant.plan),
    )

    def stage(tx: TransactWrite) -> None:
        tx.save(user, condition=UserRecord.email.does_not_exist())
        tx.save(tenant, condition=TenantRecord.tenant_id.does_not_exist())

    try:
        commit_with_events(stage, [event])
    except TransactWriteError as exc:
        if condition_failed(exc):
            attempt.record_failure(now)
            raise Conflict("an account with this email already exists", code="email_taken") from exc
        raise
    return SignupResponse(
        tenant=TenantOut(
            id=tenant.tenant_id, name=tenant.name, plan=tenant.plan, created_at=isoformat(tenant.created_at)
        ),
        user=UserOut(id=user.user_id, email=user.email, role=user.role),
    )


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("invalid email or password", code="invalid_credentials")


def _throttled(retry_after_seconds: int) -> RateLimited:
    return RateLimited(
        "too many failed logins; try again later", retry_after_seconds=retry_after_seconds, code="login_locked"
    )


def login(request: LoginRequest, client_ip: str) -> TokenResponse:
    """Check a password, throttled per (email, client IP) and per IP with backoff (429), never by
    locking the account. Unknown emails take the same time and the same throttling as known ones."""
    now = utc_now()
    attempt = login_throttle.begin(request.email, client_ip)
    wait = attempt.retry_after(now)
    if wait:
        raise _throttled(wait)
    user = find_user(request.email)
    if user is None:
        passwords.burn_verification_time(request.password)
        valid = False
    else:
        valid = passwords.verify_password(request.password, user.password_hash)
    if user is None or not valid:
        wait = attempt.record_failure(now)
        if wait:
            logger.info("login throttled after repeated failures")
            raise _throttled(wait)
        raise _invalid_credentials()
    attempt.record_success()
    issued = tokens.issue_access_token(
        user_id=user.user_id, tenant_id=user.tenant_id, scopes=ROLE_SCOPES.get(user.role, ("read",))
    )
    return TokenResponse(access_token=issued.token, expires_in=issued.expires_in)


def _key_out(record: ApiKeyRecord) -> ApiKeyOut:
    return ApiKeyOut(
        id=record.key_id,
        name=record.name,
        scopes=sorted(record.scopes),
        created_at=isoformat(record.created_at),
        last_used_at=isoformat(record.last_used_at) if record.last_used_at else None,
        revoked_at=isoformat(record.revoked_at) if record.revoked_at else None,
    )


def create_api_key(caller: Principal, request: ApiKeyCreate) -> ApiKeyCreated:
    """Issue a key with at most the caller's own scopes; the plaintext is returned only here."""
    wanted = set(request.scopes)
    if not wanted <= caller.scopes:
        raise Forbidden(
            "a key cannot have scopes its creator lacks", details={"missing_scopes": sorted(wanted - caller.scopes)}
        )
    generated = api_keys.generate_api_key()
    record = ApiKeyRecord(
        tenant_id=caller.tenant_id,
        key_id=generated.key_id,
        name=request.name,
        scopes=wanted,
        secret_hash=generated.secret_hash,
        created_by=caller.principal_id,
        created_at=utc_now(),
    )
    event = new_event(
        "api_key.created",
        tenant_id=caller.tenant_id,
        source=SOURCE,
        data=ApiKeyData(key_id=record.key_id, name=record.name, scopes=sorted(wanted)),
    )
    commit_with_events(lambda tx: tx.save(record, condition=ApiKeyRecord.key_id.does_not_exist()), [event])
    return ApiKeyCreated(**_key_out(record).model_dump(), key=generated.plaintext)


def list_api_keys(caller: Principal) -> ApiKeyList:
    return ApiKeyList(items=[_key_out(r) for r in list_keys(caller.tenant_id)])


def revoke_api_key(caller: Principal, key_id: str) -> None:
    """Revoked keys keep their row (audit) and fail authorization from the next request on."""
    record = get_key(caller.tenant_id, key_id)
    if record is None or record.revoked_at is not None:
        raise NotFound("no such API key", details={"id": key_id})
    event = new_event(
        "api_key.revoked",
        tenant_id=caller.tenant_id,
        source=SOURCE,
        data=ApiKeyData(key_id=record.key_id, name=record.name, scopes=sorted(record.scopes)),
    )

    def stage(tx: TransactWrite) -> None:
        tx.update(
            record, actions=[ApiKeyRecord.revoked_at.set(utc_now())], condition=ApiKeyRecord.revoked_at.does_not_exist()
        )

    try:
        commit_with_events(stage, [event])
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise NotFound("no such API key", details={"id": key_id}) from exc
        raise


# ---------------------------------------------------------------- seats (entitlements, issue 13)


def _release_expired_invitations(tenant_id: str) -> None:
    """Invitations that expired unaccepted give their seat back (removed with the counter, in one
    transaction each); done before a new invitation is counted."""
    now = utc_now()
    for record in invitations.tenant_invitations(tenant_id):
        if record.accepted_at is not None or record.pending(now):
            continue

        def stage(tx: TransactWrite, record: InvitationRecord = record) -> None:
            tx.delete(record, condition=InvitationRecord.accepted_at.does_not_exist())
            entitlements.stage_seat_change(tx, tenant_id, None, -1)

        try:
            commit_with_events(stage, [])
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise  # else: accepted or removed meanwhile


def invite(caller: Principal, request: InvitationCreate) -> InvitationCreated:
    """Invite someone to the caller's tenant (admin scope: owners and admins). Takes a seat: users
    plus pending invitations may not pass the plan's seats (402). The token is in this answer only.
    Whether the email already has an account is not said here (nor anywhere): accepting fails then."""
    plan = entitlements.tenant_plan(caller.tenant_id)
    _release_expired_invitations(caller.tenant_id)
    now = utc_now()
    issued = invitations.issue_token(caller.tenant_id)
    record = InvitationRecord(
        tenant_id=caller.tenant_id,
        invitation_id=issued.invitation_id,
        email=request.email,
        role=request.role,
        token_hash=issued.token_hash,
        created_by=caller.principal_id,
        created_at=now,
        expires_at=now + timedelta(hours=get_settings().invitation_ttl_hours),
    )
    event = new_event(
        "invitation.created",
        tenant_id=caller.tenant_id,
        source=SOURCE,
        data=InvitationData(invitation_id=record.invitation_id, role=request.role),
    )

    def stage(tx: TransactWrite) -> None:
        tx.save(record, condition=InvitationRecord.invitation_id.does_not_exist())
        entitlements.stage_seat_change(tx, caller.tenant_id, plan, +1)

    for attempt in range(2):
        try:
            commit_with_events(stage, [event])
            break
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            if not entitlements.settle_failed_seat(caller.tenant_id, plan) or attempt:
                raise Conflict("the invitation could not be recorded; retry", code="concurrent_modification") from exc
    return InvitationCreated(
        id=record.invitation_id,
        email=record.email,
        role=record.role,
        expires_at=isoformat(record.expires_at),
        token=issued.plaintext,
    )


def _invalid_invitation() -> BadRequest:
    return BadRequest("this invitation cannot be accepted", code="invitation_invalid")


def accept_invitation(request: InvitationAccept) -> InvitationAccepted:
    """Create the invited user in the tenant the verified token belongs to (never one the request
    names). Unknown, expired or used tokens, and an email that already has an account, all get
    the same answer, so the endpoint says nothing about which accounts exist."""
    now = utc_now()
    record = invitations.find_by_token(request.token)
    if record is None or not record.pending(now):
        passwords.burn_verification_time(request.password)
        raise _invalid_invitation()
    user = UserRecord(
        email=record.email,
        user_id=new_id("usr"),
        tenant_id=record.tenant_id,
        password_hash=passwords.hash_password(request.password),
        role=record.role,
        created_at=now,
    )
    event = new_event(
        "invitation.accepted",
        tenant_id=record.tenant_id,
        source=SOURCE,
        data=InvitationData(invitation_id=record.invitation_id, role=record.role, user_id=user.user_id),
    )

    def stage(tx: TransactWrite) -> None:
        tx.save(user, condition=UserRecord.email.does_not_exist())
        tx.update(
            record,
            actions=[InvitationRecord.accepted_at.set(now)],
            condition=InvitationRecord.accepted_at.does_not_exist() & (InvitationRecord.expires_at > now),
        )

    try:
        commit_with_events(stage, [event])
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise _invalid_invitation() from exc
        raise
    return InvitationAccepted(
        tenant_id=record.tenant_id, user=UserOut(id=user.user_id, email=user.email, role=user.role)
    )
