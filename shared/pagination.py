"""Opaque list cursors.

A cursor carries only the sort key of the last item returned; the partition (the tenant) is
always re-applied from the caller's principal, so a forged cursor can never reach another
tenant's rows, and a garbled one is a clean 400.
"""

from __future__ import annotations

import base64
import binascii
import json

from shared.errors import BadRequest

MAX_CURSOR_LENGTH = 512


def encode_cursor(kind: str, last_key: str) -> str:
    raw = json.dumps({"k": kind, "after": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The sort key to continue after; BadRequest for anything we did not issue for `kind`."""
    invalid = BadRequest("the cursor is not valid for this list", code="invalid_cursor")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("after"), str):
        raise invalid
    after: str = data["after"]
    if not after or len(after) > 128:
        raise invalid
    return after
