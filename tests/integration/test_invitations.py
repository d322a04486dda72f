"""Seats (issue 13): owners and admins invite users with a role; users plus pending invitations may
not pass the plan's seats (402, nothing written); the token is shown once, stored hashed, expires;
accepting creates the user in the token's tenant and never says which accounts exist."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import Caller, LambdaApi
from tests.support.tenants import PASSWORD, new_tenant


def _email() -> str:
    return f"invitee-{secrets.token_hex(6)}@example.com"


def _invitations(tenant_id: str) -> list[Any]:
    from shared.auth.invitations import tenant_invitations

    return tenant_invitations(tenant_id)


def _seats(tenant_id: str) -> int | None:
    from shared.billing.models import SEATS, get_counter

    counter = get_counter(tenant_id, SEATS)
    return int(counter.total) if counter is not None else None


def _login(auth: LambdaApi, email: str, password: str = PASSWORD) -> Any:
    return auth.post("/auth/login", body={"email": email, "password": password})


@pytest.fixture
def public(auth_handler: Any) -> LambdaApi:
    return LambdaApi(auth_handler)


def test_an_invited_member_joins_the_inviters_tenant_with_member_scopes(
    auth_handler: Any, tenant_a: Caller, public: LambdaApi
) -> None:
    from shared.auth.tokens import verify_access_token

    owner = LambdaApi(auth_handler, tenant_a)
    email = _email()
    invited = owner.post("/tenant/invitations", body={"email": email.upper(), "role": "member"})
    assert invited.status == 201, invited.text
    body = invited.json
    assert (body["email"], body["role"]) == (email, "member") and body["id"].startswith("inv_")
    token = body["token"]
    stored = _invitations(tenant_a.tenant_id)
    assert [r.invitation_id for r in stored] == [body["id"]]
    assert token not in str(stored[0].attribute_values)  # only its hash is stored
    assert _seats(tenant_a.tenant_id) == 2  # the owner and the pending invitation

    accepted = public.post("/auth/invitations/accept", body={"token": token, "password": PASSWORD})
    assert accepted.status == 201, accepted.text
    assert accepted.json["tenant_id"] == tenant_a.tenant_id
    assert accepted.json["user"]["role"] == "member"
    login = _login(public, email)
    assert login.status == 200, login.text
    principal = verify_access_token(login.json["access_token"])
    assert principal.tenant_id == tenant_a.tenant_id
    assert principal.scopes == frozenset({"read", "trade"})
    assert _seats(tenant_a.tenant_id) == 2  # a pending seat became a user

    # A member cannot invite; the token cannot be used twice.
    member = LambdaApi(auth_handler, Caller(tenant_a.tenant_id, principal.principal_id, scopes=("read", "trade")))
    assert member.post("/tenant/invitations", body={"email": _email()}).status == 403
    again = public.post("/auth/invitations/accept", body={"token": token, "password": PASSWORD})
    assert (again.status, again.error_code) == (400, "invitation_invalid")


def test_invitations_beyond_the_plans_seats_are_402_and_write_nothing(auth_handler: Any) -> None:
    free = new_tenant(auth_handler, plan="free")[0]
    owner = LambdaApi(auth_handler, free)
    refused = owner.post("/tenant/invitations", body={"email": _email()})
    assert (refused.status, refused.error_code) == (402, "plan_limit"), refused.text
    details = refused.json["error"]["details"]
    assert (details["limit"], details["plan"], details["allowed"], details["upgrade_to"]) == (
        "seats",
        "free",
        1,
        "team",
    )
    assert _invitations(free.tenant_id) == []
    assert _seats(free.tenant_id) == 1  # initialized (the owner), nothing taken

    team = new_tenant(auth_handler, plan="team")[0]
    admin = LambdaApi(auth_handler, team)
    for _ in range(9):  # the owner plus nine pending invitations fill ten seats
        assert admin.post("/tenant/invitations", body={"email": _email(), "role": "admin"}).status == 201
    assert admin.post("/tenant/invitations", body={"email": _email()}).status == 402
    assert len(_invitations(team.tenant_id)) == 9 and _seats(team.tenant_id) == 10


def test_an_expired_invitation_is_refused_and_gives_its_seat_back(
    auth_handler: Any, public: LambdaApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.auth import service
    from shared.clock import utc_now

    caller = new_tenant(auth_handler, plan="team")[0]
    owner = LambdaApi(auth_handler, caller)
    token = owner.post("/tenant/invitations", body={"email": _email()}).json["token"]
    later = utc_now() + timedelta(hours=73)
    monkeypatch.setattr(service, "utc_now", lambda: later)
    expired = public.post("/auth/invitations/accept", body={"token": token, "password": PASSWORD})
    assert (expired.status, expired.error_code) == (400, "invitation_invalid")
    assert _seats(caller.tenant_id) == 2
    assert owner.post("/tenant/invitations", body={"email": _email()}).status == 201
    assert _seats(caller.tenant_id) == 2  # the expired one released, the new one taken
    assert len(_invitations(caller.tenant_id)) == 1


def test_accepting_never_tells_which_accounts_exist(auth_handler: Any, tenant_a: Caller, public: LambdaApi) -> None:
    existing_email = new_tenant(auth_handler)[1]
    owner = LambdaApi(auth_handler, tenant_a)
    token = owner.post("/tenant/invitations", body={"email": existing_email}).json["token"]
    taken = public.post("/auth/invitations/accept", body={"token": token, "password": PASSWORD})
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    unknown = public.post("/auth/invitations/accept", body={"token": forged, "password": PASSWORD})
    garbage = public.post("/auth/invitations/accept", body={"token": "coi_nothing", "password": PASSWORD})
    answers = {(r.status, r.text) for r in (taken, unknown, garbage)}
    assert len(answers) == 1 and next(iter(answers))[0] == 400
    # The existing account is untouched: still its own tenant's owner, with its own password.
    assert _login(public, existing_email).status == 200


def test_the_tenant_comes_from_the_token_only(auth_handler: Any, tenant_a: Caller, tenant_b: Caller) -> None:
    owner_a = LambdaApi(auth_handler, tenant_a)
    token = owner_a.post("/tenant/invitations", body={"email": _email()}).json["token"]
    # A token re-addressed to tenant B does not match B's rows (nor A's): refused.
    forged = token.replace(tenant_a.tenant_id, tenant_b.tenant_id)
    reply = LambdaApi(auth_handler).post("/auth/invitations/accept", body={"token": forged, "password": PASSWORD})
    assert (reply.status, reply.error_code) == (400, "invitation_invalid")
    extra = LambdaApi(auth_handler).post(
        "/auth/invitations/accept", body={"token": token, "password": PASSWORD, "tenant_id": tenant_b.tenant_id}
    )
    assert extra.status == 422  # unknown fields are refused, so no request can name a tenant
