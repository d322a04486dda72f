"""consumer_kit.sns: SNS message verification against a key and certificate made here."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from consumer_kit.sns import (
    SnsConfirmationFailed,
    SnsVerificationFailed,
    SnsVerifier,
    canonical_string,
    confirm_subscription,
    is_sns_confirmation_url,
)

TOPIC = "arn:aws:sns:eu-west-1:123456789012:domain-events"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
CN_CERT_URL = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123456789abcdef.pem"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    "&TopicArn=arn:aws:sns:eu-west-1:123456789012:domain-events&Token=2336412f37"
)
NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
EVENT = {
    "id": "evt_1",
    "type": "order.filled",
    "version": 1,
    "tenant_id": "ten_1",
    "occurred_at": "2027-01-15T08:00:00Z",
    "source": "cryptoorchestrator",
    "data": {},
}


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    pem: bytes

    def sign(self, message: dict[str, Any], version: str = "1", hash_version: str | None = None) -> dict[str, Any]:
        """Sign like SNS: the canonical string, PKCS#1 v1.5 with SHA1 (v1) or SHA256 (v2)."""
        algorithm = hashes.SHA1() if (hash_version or version) == "1" else hashes.SHA256()  # noqa: S303 (SNS v1)
        signed = {**message, "SignatureVersion": version}
        signature = self.key.sign(canonical_string(signed), padding.PKCS1v15(), algorithm)
        return {**signed, "Signature": base64.b64encode(signature).decode()}


def self_signed(key: Any, *, not_before: datetime, not_after: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, self_signed(key, not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=300)))


@dataclass
class Fetcher:
    pem: bytes
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.pem


def verifier_for(
    fetcher: Callable[[str], bytes], *, now: datetime = NOW, topics: tuple[str, ...] = (TOPIC,)
) -> SnsVerifier:
    return SnsVerifier(topics, fetch_certificate=fetcher, clock=now.timestamp)


def notification(**overrides: Any) -> dict[str, Any]:
    message = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": json.dumps(EVENT),
        "Timestamp": "2027-01-15T08:00:00.000Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
        "MessageAttributes": {"type": {"Type": "String", "Value": "order.filled"}},
    }
    message.update(overrides)
    return message


def confirmation(msg_type: str = "SubscriptionConfirmation", **overrides: Any) -> dict[str, Any]:
    message = {
        "Type": msg_type,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": "2027-01-15T08:00:00.000Z",
        "SigningCertURL": CERT_URL,
    }
    message.update(overrides)
    return message


def reason_of(verifier: SnsVerifier, message: Any) -> str:
    with pytest.raises(SnsVerificationFailed) as failure:
        verifier.verify(message)
    return failure.value.reason


def test_canonical_string_follows_the_aws_field_order() -> None:
    message = notification(Subject="hi")
    expected = "".join(
        f"{k}\n{message[k]}\n" for k in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    )
    assert canonical_string(message) == expected.encode()
    assert b"Subject" not in canonical_string(notification())
    assert canonical_string(confirmation()).startswith(b"Message\n")
    assert b"SubscribeURL\n" in canonical_string(confirmation()) and b"Token\n" in canonical_string(confirmation())


@pytest.mark.parametrize("version", ["1", "2"])
def test_valid_notification_verifies(signer: Signer, version: str) -> None:
    fetcher = Fetcher(signer.pem)
    verified = verifier_for(fetcher).verify(signer.sign(notification(), version))

    assert verified.is_notification and verified.topic_arn == TOPIC
    assert verified.event() == EVENT
    assert verified.message_attributes == {"type": {"Type": "String", "Value": "order.filled"}}
    assert fetcher.calls == [CERT_URL]


def test_subject_is_signed_when_present_and_raw_bodies_are_accepted(signer: Signer) -> None:
    body = json.dumps(signer.sign(notification(Subject="order.filled"), "2")).encode()
    assert verifier_for(Fetcher(signer.pem)).verify(body).subject == "order.filled"


def test_china_partition_certificate_url_is_accepted(signer: Signer) -> None:
    message = signer.sign(notification(SigningCertURL=CN_CERT_URL), "2")
    assert verifier_for(Fetcher(signer.pem)).verify(message).message_id


def test_certificate_is_fetched_once_and_cached(signer: Signer) -> None:
    fetcher = Fetcher(signer.pem)
    verifier = verifier_for(fetcher)
    for version in ("1", "2", "1"):
        verifier.verify(signer.sign(notification(), version))
    assert fetcher.calls == [CERT_URL]


@pytest.mark.parametrize("field_name", ["Message", "MessageId", "Timestamp"])
def test_tampered_message_fails(signer: Signer, field_name: str) -> None:
    message = signer.sign(notification(), "2")
    message[field_name] += "x"
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == "bad_signature"


def test_relabelled_message_type_fails(signer: Signer) -> None:
    message = signer.sign(confirmation(), "2") | {"Type": "UnsubscribeConfirmation"}
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == "bad_signature"


def test_adding_a_subject_after_signing_fails(signer: Signer) -> None:
    message = {**signer.sign(notification(), "1"), "Subject": "injected"}
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == "bad_signature"


def test_signature_by_another_key_fails(signer: Signer) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = Signer(other, signer.pem).sign(notification(), "2")
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == "bad_signature"


@pytest.mark.parametrize(("label", "hashed_with"), [("1", "2"), ("2", "1")])
def test_signature_version_must_match_the_hash(signer: Signer, label: str, hashed_with: str) -> None:
    message = signer.sign(notification(), label, hash_version=hashed_with)
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == "bad_signature"


@pytest.mark.parametrize("version", ["3", "0", "", None, 1])
def test_unknown_signature_version_is_refused_before_any_fetch(signer: Signer, version: Any) -> None:
    fetcher = Fetcher(signer.pem)
    message = {**signer.sign(notification(), "1"), "SignatureVersion": version}
    assert reason_of(verifier_for(fetcher), message) == "signature_version"
    assert fetcher.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-0123.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
        "https://s3.eu-west-1.amazonaws.com/SimpleNotificationService-0123.pem",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123.txt",
        "https://sns.eu-west-1.amazonaws.com/x.pem?.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/x.pem",
        "https://user@sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com@evil.example/x.pem",
        "HTTPS://SNS.EU-WEST-1.AMAZONAWS.COM/x.pem",
        "",
    ],
)
def test_non_aws_or_plain_http_certificate_urls_are_refused_and_never_fetched(signer: Signer, url: str) -> None:
    fetcher = Fetcher(signer.pem)
    message = signer.sign(notification(SigningCertURL=url), "2")
    assert reason_of(verifier_for(fetcher), message) == "certificate_url"
    assert fetcher.calls == []


@pytest.mark.parametrize("topic", ["arn:aws:sns:eu-west-1:999999999999:domain-events", "", ["x"]])
def test_unexpected_topic_is_refused_before_any_fetch(signer: Signer, topic: Any) -> None:
    fetcher = Fetcher(signer.pem)
    message = signer.sign(notification(), "2") | {"TopicArn": topic}
    assert reason_of(verifier_for(fetcher), message) == "topic_not_allowed"
    assert fetcher.calls == []


def test_an_allowlist_is_required() -> None:
    with pytest.raises(ValueError):
        SnsVerifier([])
    with pytest.raises(ValueError):
        SnsVerifier(TOPIC)  # a string is not a collection of ARNs


def test_certificate_outside_its_validity_period_is_refused(signer: Signer) -> None:
    message = signer.sign(notification(), "2")
    assert reason_of(verifier_for(Fetcher(signer.pem), now=NOW + timedelta(days=400)), message) == "certificate"
    assert reason_of(verifier_for(Fetcher(signer.pem), now=NOW - timedelta(days=60)), message) == "certificate"


def test_unusable_certificates_are_refused(signer: Signer) -> None:
    message = signer.sign(notification(), "2")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = self_signed(ec_key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=1))

    def failing(url: str) -> bytes:
        raise OSError("network down")

    assert reason_of(verifier_for(Fetcher(b"not a certificate")), message) == "certificate"
    assert reason_of(verifier_for(Fetcher(ec_pem)), message) == "certificate"
    assert reason_of(verifier_for(failing), message) == "certificate"


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"Type": "Other"}, "unknown_type"),
        ({"Message": None}, "malformed"),
        ({"Timestamp": 5}, "malformed"),
        ({"Signature": "not base64!"}, "bad_signature"),
    ],
)
def test_malformed_messages_are_refused(signer: Signer, broken: dict[str, Any], reason: str) -> None:
    message = signer.sign(notification(), "2") | broken
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == reason


def test_bodies_that_are_not_a_json_object_are_refused(signer: Signer) -> None:
    assert reason_of(verifier_for(Fetcher(signer.pem)), b"[1, 2]") == "malformed"
    assert reason_of(verifier_for(Fetcher(signer.pem)), b"{not json") == "malformed"


def test_subscription_confirmation_is_verified_and_confirmed_through_the_injected_get(signer: Signer) -> None:
    verified = verifier_for(Fetcher(signer.pem)).verify(signer.sign(confirmation(), "2"))
    fetched: list[str] = []

    def get(url: str) -> int:
        fetched.append(url)
        return 200

    assert verified.is_subscription_confirmation and verified.subscribe_url == SUBSCRIBE_URL
    assert verified.token == "2336412f37"
    confirm_subscription(verified, get=get)
    assert fetched == [SUBSCRIBE_URL]


def test_tampered_subscribe_url_fails_verification(signer: Signer) -> None:
    message = signer.sign(confirmation(), "1") | {"SubscribeURL": SUBSCRIBE_URL + "x"}
    assert reason_of(verifier_for(Fetcher(signer.pem)), message) == "bad_signature"


def test_unsubscribe_confirmation_verifies(signer: Signer) -> None:
    verified = verifier_for(Fetcher(signer.pem)).verify(signer.sign(confirmation("UnsubscribeConfirmation"), "1"))
    assert verified.type == "UnsubscribeConfirmation" and not verified.is_subscription_confirmation


def test_confirmation_refuses_non_sns_urls_notifications_and_sns_errors(signer: Signer) -> None:
    calls: list[str] = []

    def get(url: str) -> int:
        calls.append(url)
        return 403

    verifier = verifier_for(Fetcher(signer.pem))
    foreign = verifier.verify(
        signer.sign(confirmation(SubscribeURL="https://evil.example/?Action=ConfirmSubscription"), "2")
    )
    with pytest.raises(SnsConfirmationFailed):
        confirm_subscription(foreign, get=get)
    with pytest.raises(SnsConfirmationFailed):
        confirm_subscription(verifier.verify(signer.sign(notification(), "2")), get=get)
    assert calls == []
    with pytest.raises(SnsConfirmationFailed, match="403"):
        confirm_subscription(verifier.verify(signer.sign(confirmation(), "2")), get=get)
    assert calls == [SUBSCRIBE_URL]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (SUBSCRIBE_URL, True),
        ("https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=1", True),
        ("http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=1", False),
        ("https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe", False),
        ("https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription", False),
        ("https://sns.eu-west-1.amazonaws.com:444/?Action=ConfirmSubscription", False),
    ],
)
def test_sns_confirmation_urls(url: str, ok: bool) -> None:
    assert is_sns_confirmation_url(url) is ok
