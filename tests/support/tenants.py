"""Fresh tenants for tests, created through the auth API's real handler."""

from __future__ import annotations

import secrets

from tests.support.api import Caller, LambdaApi

PASSWORD = "a-long-test-password-1"


def set_plan(tenant_id: str, plan: str) -> None:
    """Put a tenant on `plan`, as the Stripe side does when a subscription changes."""
    from shared.tenants.models import TenantRecord

    TenantRecord(tenant_id).update(actions=[TenantRecord.plan.set(plan)], condition=TenantRecord.tenant_id.exists())


def new_tenant(auth_handler: object, plan: str = "team") -> tuple[Caller, str]:
    """Sign up a tenant on `plan`; returns the owner as a caller (all scopes) and the email.
    Test tenants default to the team plan so that tests of other features are not about plan
    limits; the entitlement tests ask for `free` or `pro`."""
    email = f"owner-{secrets.token_hex(6)}@example.com"
    api = LambdaApi(auth_handler)
    reply = api.post("/auth/signup", body={"email": email, "password": PASSWORD})
    assert reply.status == 201, reply.text
    body = reply.json
    caller = Caller(tenant_id=body["tenant"]["id"], principal_id=f"user:{body['user']['id']}")
    if plan != "free":
        set_plan(caller.tenant_id, plan)
    return caller, email
