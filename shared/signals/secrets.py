"""Per-bot signal secrets: generated once, shown once, stored only as a SHA-256 hash.

TradingView cannot send an Authorization header, so a signal authenticates with a secret in its
body (or an `X-Signal-Secret` header). The secret is 256 random bits, so a plain SHA-256 is
enough to make the stored hash useless to a thief (no password stretching needed), and the
comparison is constant-time. The table is keyed by bot id (what the URL carries) and holds the
tenant: the tenant of a signal comes only from this row, never from the request. An unknown bot
and a wrong secret cost the same work and get the same answer, so the endpoint cannot be used to
enumerate bots.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.clock import utc_now
from shared.persistence import BaseMeta, get_or_none

SECRET_PREFIX = "sigsec_"
_UNKNOWN_BOT_HASH = hashlib.sha256(b"no bot has this secret").hexdigest()


class SignalSecretRecord(Model):
    class Meta(BaseMeta):
        table_setting = "signal_secrets_table"

    bot_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    rotated_at = UTCDateTimeAttribute()


def new_secret() -> str:
    """256 random bits, URL- and form-safe (TradingView alert messages are plain text)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_record(tenant_id: str, bot_id: str, secret: str) -> SignalSecretRecord:
    return SignalSecretRecord(bot_id=bot_id, tenant_id=tenant_id, secret_hash=secret_hash(secret), rotated_at=utc_now())


def stage_secret(tx: TransactWrite, tenant_id: str, bot_id: str, secret: str) -> None:
    """Stage the (new or replacing) hash in the caller's transaction."""
    tx.save(secret_record(tenant_id, bot_id, secret))


def stage_delete(tx: TransactWrite, bot_id: str) -> None:
    tx.delete(SignalSecretRecord(bot_id=bot_id, tenant_id="", secret_hash="", rotated_at=utc_now()))


def tenant_for(bot_id: str, presented: str | None) -> str | None:
    """The tenant owning `bot_id` if `presented` is its current secret; None otherwise (unknown bot,
    missing or wrong secret: indistinguishable to the caller)."""
    row = get_or_none(SignalSecretRecord, bot_id)
    expected = row.secret_hash if row is not None else _UNKNOWN_BOT_HASH
    given = secret_hash(presented or "")
    matches = hmac.compare_digest(given, expected)
    return row.tenant_id if row is not None and matches and presented else None
