"""Signature cost per webhook delivery: signing (what the dispatcher does) and verifying (what a
consumer does with consumer_kit), per call, next to the floor of one bare HMAC-SHA256 over the
same signed bytes (`hmac.new(key, id.timestamp.body, sha256).digest()`), measured in the same run.

Each figure is the best and the median of several batches (per call, µs); the ratio column
divides the median by the floor's median.

    .venv/bin/python -m benchmarks.webhook_signing [--number 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from consumer_kit.webhooks import WebhookVerifier, generate_secret, sign_webhook

MSG_ID = "evt_01JH8Z6Q3V5K7M9P2R4T6W8Y0A"
TIMESTAMP = 1_800_000_000


def envelope(size: int) -> bytes:
    """An event envelope padded to about `size` bytes (an order.filled event is ~1 KiB)."""
    data: dict[str, Any] = {"order_id": "ord_1", "symbol": "BTC/USDT", "side": "buy", "filled": "0.01", "pad": ""}
    event = {
        "id": MSG_ID,
        "type": "order.filled",
        "version": 1,
        "tenant_id": "ten_1",
        "occurred_at": "2027-01-15T08:00:00Z",
        "source": "cryptoorchestrator",
        "data": data,
    }
    data["pad"] = "x" * max(0, size - len(json.dumps(event)))
    return json.dumps(event).encode()


def per_call_us(call: Callable[[], object], *, number: int, repeat: int) -> tuple[float, float]:
    """(best, median) µs per call over `repeat` batches of `number` calls."""
    for _ in range(min(number, 200)):
        call()
    batches = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        batches.append((time.perf_counter() - start) / number * 1e6)
    return min(batches), statistics.median(batches)


@dataclass(frozen=True)
class Keys:
    old: str
    new: str

    @property
    def raw_new(self) -> bytes:
        return base64.b64decode(self.new.removeprefix("whsec_"))


def rows(body: bytes, keys: Keys) -> list[tuple[str, Callable[[], object]]]:
    """The timed calls for one body; each is checked once so a broken setup cannot look fast."""
    key = keys.raw_new
    text = body.decode()
    signed_bytes = f"{MSG_ID}.{TIMESTAMP}.".encode() + body
    when = datetime.fromtimestamp(TIMESTAMP, tz=UTC)
    reference = Webhook(keys.new)
    one = WebhookVerifier(keys.new, clock=lambda: TIMESTAMP)
    both = WebhookVerifier([keys.old, keys.new], clock=lambda: TIMESTAMP)
    headers_one = sign_webhook(keys.new, MSG_ID, body, TIMESTAMP)
    if one.verify(body, headers_one).id != MSG_ID or both.verify(body, headers_one).id != MSG_ID:
        raise SystemExit("verification failed: the setup is broken")
    return [
        (
            "floor: hmac.new(key, id.ts.body, sha256).digest()",
            lambda: hmac.new(key, signed_bytes, hashlib.sha256).digest(),
        ),
        ("sign: standardwebhooks Webhook.sign (dispatcher)", lambda: reference.sign(MSG_ID, when, text)),
        (
            "sign: consumer_kit.sign_webhook, 1 secret (decodes it)",
            lambda: sign_webhook(keys.new, MSG_ID, body, TIMESTAMP),
        ),
        (
            "sign: consumer_kit.sign_webhook, 2 secrets (rotation)",
            lambda: sign_webhook([keys.old, keys.new], MSG_ID, body, TIMESTAMP),
        ),
        ("verify: WebhookVerifier, 1 secret, 1 signature", lambda: one.verify(body, headers_one)),
        (
            "verify: 2 secrets held, signed by the 2nd (rotation, worst case)",
            lambda: both.verify(body, headers_one),
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    keys = Keys(old=generate_secret(), new=generate_secret())
    print(f"{'per call (µs)':<66} {'best':>8} {'median':>8} {'x floor':>8}")
    for size in (1024, 16 * 1024):
        body = envelope(size)
        print(f"-- body {len(body)} bytes")
        floor_median = 0.0
        for label, call in rows(body, keys):
            best, median = per_call_us(call, number=args.number, repeat=args.repeat)
            floor_median = floor_median or median
            print(f"{label:<66} {best:>8.2f} {median:>8.2f} {median / floor_median:>8.1f}")


if __name__ == "__main__":
    main()
