"""Deterministic order and client order ids, derived from the intent.

The same (tenant, source, intent) always yields the same order id and the same client order id,
so a repeated intent, however late, lands on the same intent row, and a resubmission carries the
client id the exchange may already know. Each exchange's limits shape the id:
OKX <= 32 alphanumeric; Binance and Bybit <= 36 of [A-Za-z0-9_.:/-]; Kraken and Coinbase take a
UUID.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

_UUID_EXCHANGES = frozenset({"kraken", "coinbase", "coinbaseadvanced", "coinbaseexchange"})


def intent_digest(tenant_id: str, source: str, intent_id: str) -> bytes:
    """source is a bot id, "manual" or "signal:<bot>"; intent_id is unique within it."""
    return hashlib.sha256(f"{tenant_id}\x1f{source}\x1f{intent_id}".encode()).digest()


def _base32(digest: bytes) -> str:
    return base64.b32encode(digest).decode().rstrip("=").lower()


def order_id_for(digest: bytes) -> str:
    return "ord_" + _base32(digest)[:26]


def client_order_id_for(exchange_id: str, digest: bytes) -> str:
    if exchange_id in _UUID_EXCHANGES:
        return str(uuid.UUID(bytes=digest[:16]))
    # "co" + 30 base32 characters: 32 alphanumerics, valid on every other exchange we support.
    return "co" + _base32(digest)[:30]
