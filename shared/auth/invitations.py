"""The Invitations table: an admin's invitation for someone to join the tenant with a role.

The token is shown once (to the inviter, who passes it on) and stored as a SHA-256 hash, like API
keys: it carries 256 random bits, so a fast hash suffices. Token format
`coi_<tenant id>_<invitation ulid>_<secret>`: the ids find the row, the hash of the whole token
proves possession, so the tenant an accepted invitation joins is the one whose row matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from shared.ids import new_ulid
from shared.persistence import BaseMeta, get_or_none

_TOKEN = re.compile(r"coi_(ten_[0-9a-z]{26})_([0-9a-z]{26})_([A-Za-z0-9_-]{43})")


class InvitationRecord(Model):
    class Meta(BaseMeta):
        table_setting = "invitations_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    invitation_id = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    accepted_at = UTCDateTimeAttribute(null=True)

    def pending(self, now: datetime) -> bool:
        return self.accepted_at is None and now < self.expires_at


@dataclass(frozen=True)
class IssuedToken:
    invitation_id: str
    plaintext: str
    token_hash: str


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue_token(tenant_id: str) -> IssuedToken:
    lookup = new_ulid()
    plaintext = f"coi_{tenant_id}_{lookup}_{secrets.token_urlsafe(32)}"
    return IssuedToken(invitation_id=f"inv_{lookup}", plaintext=plaintext, token_hash=hash_token(plaintext))


def find_by_token(plaintext: str) -> InvitationRecord | None:
    """The invitation a presented token proves (its hash matches), or None."""
    match = _TOKEN.fullmatch(plaintext)
    if match is None:
        return None
    record = get_or_none(InvitationRecord, match.group(1), f"inv_{match.group(2)}")
    if record is None or not hmac.compare_digest(hash_token(plaintext), record.token_hash):
        return None
    return record


def tenant_invitations(tenant_id: str) -> list[InvitationRecord]:
    """Every invitation of the tenant (one Query; bounded by its seats, as expired ones are removed)."""
    return list(InvitationRecord.query(tenant_id, consistent_read=True))
