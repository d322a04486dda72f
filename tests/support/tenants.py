"""Fresh tenants for tests, created through the auth API's real handler."""

from __future__ import annotations

import secrets

from tests.support.api import Caller, LambdaApi

PASSWORD = "a-long-test-password-1"


def new_tenant(auth_handler: object) -> tuple[Caller, str]:
    """Sign up a tenant; returns the owner as a caller (all scopes) and the email."""
    email = f"owner-{secrets.token_hex(6)}@example.com"
    api = LambdaApi(auth_handler)
    reply = api.post("/auth/signup", body={"email": email, "password": PASSWORD})
    assert reply.status == 201, reply.text
    body = reply.json
    caller = Caller(tenant_id=body["tenant"]["id"], principal_id=f"user:{body['user']['id']}")
    return caller, email
