"""Verify (and, for your tests, sign) webhook deliveries per the Standard Webhooks specification.

A delivery carries `webhook-id` (the event id, stable across retries and replays),
`webhook-timestamp` (Unix seconds) and `webhook-signature`: space-separated `v1,<base64>` entries,
each an HMAC-SHA256 of `{id}.{timestamp}.{body}` under a `whsec_<base64>` secret. During a secret
rotation we sign with the old and the new secret, and you may hold both as well.

The signing itself (secret decoding, signed content, HMAC, encoding) is `standardwebhooks`, the
specification's reference implementation, so the two can never disagree. Its `Webhook.verify`
is not used as is, because it
- fixes the tolerance at 5 minutes and reads the wall clock itself (no other window, no clock
  for deterministic tests);
- raises plain `ValueError`/`binascii.Error` (not its own error) on a malformed signature entry
  or a non-UTF-8 body, so one bad header would crash a handler instead of answering 400;
- accepts fractional or exponent timestamps (`"1.7e9"`) and then checks a signature over a
  different, floored timestamp than the one sent.
So this module parses the headers strictly, checks the window, asks `Webhook.sign` for the
expected signature under each secret and compares it with every `v1` entry in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_bytes
from typing import Any

from standardwebhooks import Webhook

DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24  # the specification's lower bound
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAX_ID_LENGTH = 256


class WebhookVerificationFailed(Exception):
    """The delivery is not authentic or not fresh: answer 400 and do not act on it.

    `reason` is a short stable code (`missing_header`, `malformed_timestamp`, `timestamp_too_old`,
    `timestamp_too_new`, `no_signature`, `bad_signature`, `malformed_body`); messages never
    contain a secret or a signature.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedWebhook:
    """A delivery whose signature and timestamp checked out."""

    id: str
    timestamp: int
    body: bytes

    def json(self) -> Any:
        """The event envelope `{id, type, version, tenant_id, occurred_at, source, data}`."""
        return json.loads(self.body)


def generate_secret(n_bytes: int = 32) -> str:
    """A fresh `whsec_` secret (for your tests; we issue the real ones)."""
    if n_bytes < MIN_SECRET_BYTES:
        raise ValueError(f"a secret needs at least {MIN_SECRET_BYTES} bytes")
    return SECRET_PREFIX + base64.b64encode(token_bytes(n_bytes)).decode("ascii")


def _signer(secret: str) -> Webhook:
    """Decode strictly: the reference decoder silently drops non-base64 characters, which would
    turn a mistyped secret into a different (shorter) key instead of an error."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds at least {MIN_SECRET_BYTES} bytes")
    return Webhook(key)


def _signature(signer: Webhook, msg_id: str, timestamp: int, body: str) -> str:
    return signer.sign(msg_id=msg_id, timestamp=datetime.fromtimestamp(timestamp, tz=UTC), data=body)


def sign_webhook(secrets: str | Sequence[str], msg_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three headers of a delivery of `body`, signed with every secret given (rotation):
    what we send, and what your tests can send to your own endpoint."""
    signers = [_signer(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
    if not signers:
        raise ValueError("at least one secret is needed")
    text = body.decode("utf-8")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(_signature(s, msg_id, timestamp, text) for s in signers),
    }


def _v1_signatures(header: str) -> list[bytes]:
    """Every well-formed `v1` entry; entries of other versions or malformed ones are skipped, as
    the specification asks (a newer scheme may sit beside v1)."""
    found = []
    for entry in header.split():
        version, sep, encoded = entry.partition(",")
        if version != "v1" or not sep:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return found


class WebhookVerifier:
    """Holds your secret(s) and checks deliveries.

    Pass both the old and the new secret while you roll a rotation out; drop the old one after
    the overlap window. `tolerance_seconds` bounds clock skew both ways and the replay window.
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        *,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signers = [_signer(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
        if not self._signers:
            raise ValueError("at least one secret is needed")
        if tolerance_seconds <= 0:
            raise ValueError("tolerance_seconds must be positive")
        self._tolerance = tolerance_seconds
        self._clock = clock

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedWebhook:
        """Check `body` (the raw request bytes, before any JSON parsing) against the headers.

        Raises WebhookVerificationFailed; returns the verified delivery otherwise. Deduplicate on
        `.id`: the same event may arrive more than once.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = lowered.get("webhook-id", "")
        timestamp_text = lowered.get("webhook-timestamp", "")
        signature_header = lowered.get("webhook-signature", "")
        if not (msg_id and timestamp_text and signature_header):
            raise WebhookVerificationFailed(
                "missing_header", "webhook-id, webhook-timestamp and webhook-signature are required"
            )
        if len(msg_id) > _MAX_ID_LENGTH:
            raise WebhookVerificationFailed("missing_header", "webhook-id is too long")
        if not _TIMESTAMP.fullmatch(timestamp_text):
            raise WebhookVerificationFailed("malformed_timestamp", "webhook-timestamp is not Unix seconds")
        timestamp = int(timestamp_text)
        now = self._clock()
        if timestamp < now - self._tolerance:
            raise WebhookVerificationFailed("timestamp_too_old", "the delivery is older than the tolerance")
        if timestamp > now + self._tolerance:
            raise WebhookVerificationFailed("timestamp_too_new", "the delivery is dated in the future")
        offered = _v1_signatures(signature_header)
        if not offered:
            raise WebhookVerificationFailed("no_signature", "no v1 signature in webhook-signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookVerificationFailed("malformed_body", "the body is not UTF-8") from None
        for signer in self._signers:
            expected = base64.b64decode(_signature(signer, msg_id, timestamp, text).partition(",")[2])
            # Compare against every entry (no early exit on a match) so timing does not reveal
            # which entry or which secret matched.
            matched = False
            for candidate in offered:
                matched |= hmac.compare_digest(expected, candidate)
            if matched:
                return VerifiedWebhook(id=msg_id, timestamp=timestamp, body=body)
        raise WebhookVerificationFailed("bad_signature", "no signature matches")


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Any:
    """One-call form: verify and return the parsed event envelope (raises WebhookVerificationFailed)."""
    verified = WebhookVerifier(secrets, tolerance_seconds=tolerance_seconds).verify(body, headers)
    try:
        return verified.json()
    except ValueError:
        raise WebhookVerificationFailed("malformed_body", "the body is not JSON") from None
