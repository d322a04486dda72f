"""consumer_kit.webhooks: Standard Webhooks verification as our consumers run it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from consumer_kit.webhooks import (
    VerifiedWebhook,
    WebhookVerificationFailed,
    WebhookVerifier,
    generate_secret,
    sign_webhook,
    verify_webhook,
)

NOW = 1_800_000_000
BODY = json.dumps(
    {
        "id": "evt_1",
        "type": "order.filled",
        "version": 1,
        "tenant_id": "ten_1",
        "occurred_at": "2027-01-15T08:00:00Z",
        "source": "cryptoorchestrator",
        "data": {"order_id": "ord_1", "note": "é"},
    }
).encode()
REPO = Path(__file__).resolve().parents[2]


def verifier(*secrets: str, tolerance: int = 300, now: float = NOW) -> WebhookVerifier:
    return WebhookVerifier(list(secrets), tolerance_seconds=tolerance, clock=lambda: now)


def test_valid_delivery_verifies_and_returns_the_envelope() -> None:
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW)

    verified = verifier(secret).verify(BODY, headers)

    assert verified == VerifiedWebhook(id="evt_1", timestamp=NOW, body=BODY)
    assert verified.json()["type"] == "order.filled"


def test_signature_is_the_specification_scheme_computed_independently() -> None:
    """v1,<base64 HMAC-SHA256(key, id.timestamp.body)> with key = base64-decoded secret."""
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = base64.b64encode(hmac.new(key, b"evt_1.%d." % NOW + BODY, hashlib.sha256).digest()).decode()

    assert sign_webhook(secret, "evt_1", BODY, NOW)["webhook-signature"] == f"v1,{expected}"


def test_headers_signed_by_the_reference_implementation_verify() -> None:
    """Interop with standardwebhooks' own verify, both directions, at the real current time."""
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, int(time.time()))
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert verify_webhook(BODY, headers, secret) == json.loads(BODY)


def test_header_names_are_case_insensitive() -> None:
    secret = generate_secret()
    headers = {k.upper(): v for k, v in sign_webhook(secret, "evt_1", BODY, NOW).items()}
    assert verifier(secret).verify(BODY, headers).id == "evt_1"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: b.replace(b"ord_1", b"ord_2"), id="body"),
        pytest.param(lambda b: b + b" ", id="trailing-space"),
    ],
)
def test_tampered_body_fails(tamper: object) -> None:
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW)
    with pytest.raises(WebhookVerificationFailed) as failure:
        verifier(secret).verify(tamper(BODY), headers)  # type: ignore[operator]
    assert failure.value.reason == "bad_signature"


def test_tampered_id_or_timestamp_fails() -> None:
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW)
    with pytest.raises(WebhookVerificationFailed, match="no signature matches"):
        verifier(secret).verify(BODY, {**headers, "webhook-id": "evt_2"})
    with pytest.raises(WebhookVerificationFailed, match="no signature matches"):
        verifier(secret).verify(BODY, {**headers, "webhook-timestamp": str(NOW + 1)})


def test_wrong_secret_fails() -> None:
    headers = sign_webhook(generate_secret(), "evt_1", BODY, NOW)
    with pytest.raises(WebhookVerificationFailed) as failure:
        verifier(generate_secret()).verify(BODY, headers)
    assert failure.value.reason == "bad_signature"


@pytest.mark.parametrize(("offset", "reason"), [(-301, "timestamp_too_old"), (301, "timestamp_too_new")])
def test_old_and_future_timestamps_fail(offset: int, reason: str) -> None:
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW + offset)
    with pytest.raises(WebhookVerificationFailed) as failure:
        verifier(secret).verify(BODY, headers)
    assert failure.value.reason == reason


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamps_at_the_tolerance_edge_pass(offset: int) -> None:
    secret = generate_secret()
    assert verifier(secret).verify(BODY, sign_webhook(secret, "evt_1", BODY, NOW + offset)).id == "evt_1"


def test_tolerance_is_configurable_beyond_five_minutes() -> None:
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW - 900)
    assert verifier(secret, tolerance=1000).verify(BODY, headers).id == "evt_1"


def test_rotation_both_secrets_verify_during_the_overlap_and_only_the_new_after() -> None:
    old, new = generate_secret(), generate_secret()
    during = sign_webhook([old, new], "evt_1", BODY, NOW)  # we sign with both during the window
    after = sign_webhook(new, "evt_1", BODY, NOW)

    assert len(during["webhook-signature"].split(" ")) == 2
    assert verifier(old).verify(BODY, during).id == "evt_1"  # a consumer that still has only the old
    assert verifier(new).verify(BODY, during).id == "evt_1"  # one that has switched already
    assert verifier(old, new).verify(BODY, after).id == "evt_1"  # a consumer holding both
    with pytest.raises(WebhookVerificationFailed):
        verifier(old).verify(BODY, after)


def test_unknown_versions_and_malformed_entries_are_skipped_not_fatal() -> None:
    secret = generate_secret()
    good = sign_webhook(secret, "evt_1", BODY, NOW)["webhook-signature"]
    header = f"v2,abcd v1 v1,not*base64 junk {good}"
    assert (
        verifier(secret).verify(BODY, {**sign_webhook(secret, "evt_1", BODY, NOW), "webhook-signature": header}).id
        == "evt_1"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-signature": ""}, "missing_header"),
        ({"webhook-id": ""}, "missing_header"),
        ({"webhook-timestamp": "1.8e9"}, "malformed_timestamp"),
        ({"webhook-timestamp": "1800000000.0"}, "malformed_timestamp"),
        ({"webhook-timestamp": "-5"}, "malformed_timestamp"),
        ({"webhook-signature": "v1"}, "no_signature"),
        ({"webhook-signature": "v1a,abc v2,abc"}, "no_signature"),
    ],
)
def test_malformed_headers_fail_with_our_error(change: dict[str, str], reason: str) -> None:
    secret = generate_secret()
    headers = {**sign_webhook(secret, "evt_1", BODY, NOW), **change}
    with pytest.raises(WebhookVerificationFailed) as failure:
        verifier(secret).verify(BODY, headers)
    assert failure.value.reason == reason


def test_non_utf8_body_fails_with_our_error() -> None:
    secret = generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW)
    with pytest.raises(WebhookVerificationFailed) as failure:
        verifier(secret).verify(b"\xff\xfe", headers)
    assert failure.value.reason == "malformed_body"


@pytest.mark.parametrize(
    "secret",
    [
        "not-prefixed-" + "A" * 40,
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_ab$cd" + "A" * 40,
    ],
)
def test_bad_secrets_are_refused_without_echoing_them(secret: str) -> None:
    """The reference decoder drops the `$` silently and accepts any length; we refuse."""
    with pytest.raises(ValueError) as failure:
        WebhookVerifier(secret)
    assert secret not in str(failure.value)


def test_no_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        WebhookVerifier([])


def test_failure_messages_never_contain_the_secret_or_signature() -> None:
    secret, other = generate_secret(), generate_secret()
    headers = sign_webhook(secret, "evt_1", BODY, NOW)
    with pytest.raises(WebhookVerificationFailed) as failure:
        verifier(other).verify(BODY, headers)
    text = str(failure.value)
    assert secret not in text and other not in text and headers["webhook-signature"][3:] not in text


def test_the_kit_imports_without_the_platform() -> None:
    """A consumer copies consumer_kit/ alone: importing it must not pull in `shared`."""
    code = (
        "import sys, consumer_kit.webhooks, consumer_kit.sns; "
        "bad = sorted(m for m in sys.modules if m == 'shared' or m.startswith(('shared.', 'functions')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
