"""`data` of tenant, API key and invitation events (raised by the auth service)."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class TenantCreatedData(EventData):
    tenant_id: str
    name: str
    plan: str


class ApiKeyData(EventData):
    key_id: str
    name: str
    scopes: list[str]


class InvitationData(EventData):
    """entitlements (issue 13): seats. The invitee's email stays out of events."""

    invitation_id: str
    role: Literal["admin", "member"]
    user_id: str | None = None
