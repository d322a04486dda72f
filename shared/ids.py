"""Identifiers: time-ordered, URL-safe, prefixed by kind (`bot_01J...`).

Time ordering makes a tenant's rows come back newest-last from one Query without a sort index.
"""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_CROCKFORD[rem])
    return "".join(reversed(chars))


def new_ulid(now_ms: int | None = None) -> str:
    """26 characters: 48 bits of milliseconds then 80 random bits (ULID layout, lower case)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode(ms, 10) + _encode(secrets.randbits(80), 16)


def new_id(prefix: str) -> str:
    return f"{prefix}_{new_ulid()}"
