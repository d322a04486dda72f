"""API keys: generated once, shown once, stored as a SHA-256 hash with a lookup id.

Key format: `co_<lookup>_<secret>`. The lookup id finds the row (through the `by_key_id` index);
the hash of the whole key proves possession. Keys are 256-bit random, so a fast hash suffices.
The table and its data access are in shared.auth.models.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from shared.auth.models import ApiKeyRecord, live_key
from shared.ids import new_ulid

_KEY_PATTERN = re.compile(r"co_([0-9a-z]{26})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class GeneratedKey:
    key_id: str
    plaintext: str
    secret_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_api_key() -> GeneratedKey:
    lookup = new_ulid()
    plaintext = f"co_{lookup}_{secrets.token_urlsafe(32)}"
    return GeneratedKey(key_id=f"key_{lookup}", plaintext=plaintext, secret_hash=hash_key(plaintext))


def key_id_of(plaintext: str) -> str | None:
    """The key id a presented key claims, or None if it is not shaped like one of ours."""
    match = _KEY_PATTERN.fullmatch(plaintext)
    return f"key_{match.group(1)}" if match else None


def hash_matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), secret_hash)


def find_key(plaintext: str) -> ApiKeyRecord | None:
    """The live record for a presented key, or None: unknown shape, unknown or revoked key, or a
    secret that does not match the stored hash."""
    key_id = key_id_of(plaintext)
    if key_id is None:
        return None
    record = live_key(key_id)
    if record is None or not hash_matches(plaintext, record.secret_hash):
        return None
    return record
