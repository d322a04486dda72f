"""Verify Amazon SNS messages (HTTP/S pushes from our `domain-events` topic) and confirm the
subscription.

Rules, after the AWS guide "Verifying the signatures of Amazon SNS messages":
- `SignatureVersion` 1 is SHA1withRSA, 2 is SHA256withRSA; anything else is refused.
- `SigningCertURL` must be `https://sns.<region>.amazonaws.com[.cn]/<path>.pem`; only then is
  it fetched (over verified TLS, no redirects), and its public key is cached per URL.
- The signed string is `Key\\nValue\\n` for each field in order: for a Notification
  Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type; for a
  SubscriptionConfirmation or UnsubscribeConfirmation Message, MessageId, SubscribeURL,
  Timestamp, Token, TopicArn, Type.
- `TopicArn` must be in your allowlist (checked before any fetch), and the certificate must be
  within its validity period.

Why not a library: `aws-sns-message-validator` (0.0.5, last release 2022) verifies only SHA1
(with `signature_version="2"` it still hashes with SHA1, so v2 messages never verify), its URL
pattern neither requires `.pem` nor accepts `amazonaws.com.cn`, it has no TopicArn allowlist
and no confirmation helper, it fetches certificates through `requests-cache` with no timeout
and no way to inject the fetcher, and a message missing a field is signed as the text "None".
`aws-sns-verifier` (0.1.14) checks with `assert` (gone under `python -O`), allows one topic,
confirms subscriptions automatically by default, logs whole messages, and pulls in boto3,
pydantic and logfire. So this module is written on `cryptography` (about 150 lines).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

CERT_URL = re.compile(r"https://sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/[A-Za-z0-9._/-]+\.pem")
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?")
NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_OPTIONAL_FIELDS = frozenset({"Subject"})
_MAX_CERTIFICATE_BYTES = 64 * 1024
_FETCH_TIMEOUT_SECONDS = 5.0

CertificateFetcher = Callable[[str], bytes]
HttpGet = Callable[[str], int]


class SnsConfirmationFailed(Exception):
    """The subscription could not be confirmed (not a confirmation, not SNS's URL, or SNS said no)."""


class SnsVerificationFailed(Exception):
    """The message is not an authentic SNS message for one of your topics: answer 400, ignore it.

    `reason` is a short stable code: `malformed`, `unknown_type`, `signature_version`,
    `topic_not_allowed`, `certificate_url`, `certificate`, `bad_signature`.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SnsMessage:
    """A verified SNS message. For a Notification from our topic, `message` is the JSON event
    envelope; for a SubscriptionConfirmation, confirm with `confirm_subscription`."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    subject: str | None = None
    subscribe_url: str | None = None
    token: str | None = None
    unsubscribe_url: str | None = None
    message_attributes: Mapping[str, Any] | None = None

    @property
    def is_notification(self) -> bool:
        return self.type == NOTIFICATION

    @property
    def is_subscription_confirmation(self) -> bool:
        return self.type == SUBSCRIPTION_CONFIRMATION

    def event(self) -> Any:
        """The domain event a Notification carries (its `Message`, parsed)."""
        if not self.is_notification:
            raise ValueError(f"a {self.type} carries no event")
        return json.loads(self.message)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A certificate or confirmation URL that redirects elsewhere is not the URL we checked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects())


def fetch_certificate_https(url: str) -> bytes:
    """The default fetcher: HTTPS with certificate verification, 5 s timeout, no redirects, 64 KiB cap."""
    if not CERT_URL.fullmatch(url):  # the verifier checked already; never fetch anything else
        raise SnsVerificationFailed("certificate_url", "not an SNS certificate URL")
    with _opener().open(url, timeout=_FETCH_TIMEOUT_SECONDS) as response:
        data: bytes = response.read(_MAX_CERTIFICATE_BYTES + 1)
    if len(data) > _MAX_CERTIFICATE_BYTES:
        raise SnsVerificationFailed("certificate", "the certificate is too large")
    return data


def http_get(url: str) -> int:
    """The default GET for confirmation: HTTPS, 10 s timeout, no redirects; returns the status."""
    try:
        with _opener().open(url, timeout=10.0) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def canonical_string(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signed for `message` (raises SnsVerificationFailed if a field is missing)."""
    fields = _SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise SnsVerificationFailed("unknown_type", "unknown SNS message type")
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None and name in _OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SnsVerificationFailed("malformed", f"{name} is missing or not a string")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


class SnsVerifier:
    """Verifies SNS messages for an allowlist of topics. Keep one per process: the certificate
    cache lives on it. `fetch_certificate` is injectable (tests, proxies); it is called only with
    a URL that matched `CERT_URL`."""

    def __init__(
        self,
        allowed_topic_arns: Collection[str],
        *,
        fetch_certificate: CertificateFetcher = fetch_certificate_https,
        clock: Callable[[], float] = time.time,
        max_cached_certificates: int = 16,
    ) -> None:
        if isinstance(allowed_topic_arns, str) or not allowed_topic_arns:
            raise ValueError("allowed_topic_arns is a non-empty collection of topic ARNs")
        self._topics = frozenset(allowed_topic_arns)
        self._fetch = fetch_certificate
        self._clock = clock
        self._max_cached = max_cached_certificates
        self._keys: OrderedDict[str, tuple[RSAPublicKey, datetime, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, message: bytes | str | Mapping[str, Any]) -> SnsMessage:
        """Verify a message (the raw request body, or the parsed JSON) and return it."""
        parsed = self._parse(message)
        msg_type = parsed.get("Type")
        if msg_type not in _SIGNED_FIELDS:
            raise SnsVerificationFailed("unknown_type", "unknown SNS message type")
        version = parsed.get("SignatureVersion")
        if version not in ("1", "2"):
            raise SnsVerificationFailed("signature_version", "SignatureVersion must be 1 or 2")
        topic_arn = parsed.get("TopicArn")
        if not isinstance(topic_arn, str) or topic_arn not in self._topics:
            raise SnsVerificationFailed("topic_not_allowed", "the topic is not in the allowlist")
        cert_url = parsed.get("SigningCertURL")
        if not isinstance(cert_url, str) or not CERT_URL.fullmatch(cert_url):
            raise SnsVerificationFailed("certificate_url", "SigningCertURL is not an SNS https .pem URL")
        signed = canonical_string(parsed)
        try:
            signature = base64.b64decode(str(parsed.get("Signature", "")), validate=True)
        except binascii.Error:
            raise SnsVerificationFailed("bad_signature", "Signature is not base64") from None
        self._check_signature(self._public_key(cert_url), signature, signed, version)
        return self._message(parsed)

    @staticmethod
    def _parse(message: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
        if isinstance(message, Mapping):
            return message
        try:
            parsed = json.loads(message)
        except ValueError:
            raise SnsVerificationFailed("malformed", "the body is not JSON") from None
        if not isinstance(parsed, dict):
            raise SnsVerificationFailed("malformed", "the body is not a JSON object")
        return parsed

    def _public_key(self, url: str) -> RSAPublicKey:
        """The certificate's public key, fetched once per URL and kept (LRU); the validity
        period is checked on every use, so a cached certificate still expires."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

        with self._lock:
            cached = self._keys.get(url)
            if cached is not None:
                self._keys.move_to_end(url)
        if cached is None:
            try:
                certificate = x509.load_pem_x509_certificate(self._fetch(url))
            except SnsVerificationFailed:
                raise
            except Exception as error:  # a fetch or parse failure: no key, no trust
                raise SnsVerificationFailed(
                    "certificate", f"cannot load the signing certificate ({type(error).__name__})"
                ) from None
            key = certificate.public_key()
            if not isinstance(key, RSAPublicKey):
                raise SnsVerificationFailed("certificate", "the signing certificate is not RSA")
            cached = (key, certificate.not_valid_before_utc, certificate.not_valid_after_utc)
            with self._lock:
                self._keys[url] = cached
                while len(self._keys) > self._max_cached:
                    self._keys.popitem(last=False)
        key, not_before, not_after = cached
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        if not (not_before <= now <= not_after):
            raise SnsVerificationFailed("certificate", "the signing certificate is not valid now")
        return key

    @staticmethod
    def _check_signature(key: RSAPublicKey, signature: bytes, signed: bytes, version: str) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1 is SHA1withRSA)
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise SnsVerificationFailed("bad_signature", "the signature does not verify") from None

    @staticmethod
    def _message(parsed: Mapping[str, Any]) -> SnsMessage:
        def text(name: str) -> str | None:
            value = parsed.get(name)
            return value if isinstance(value, str) else None

        attributes = parsed.get("MessageAttributes")
        return SnsMessage(
            type=str(parsed["Type"]),
            message_id=str(parsed["MessageId"]),
            topic_arn=str(parsed["TopicArn"]),
            message=str(parsed["Message"]),
            timestamp=str(parsed["Timestamp"]),
            subject=text("Subject"),
            subscribe_url=text("SubscribeURL"),
            token=text("Token"),
            unsubscribe_url=text("UnsubscribeURL"),
            message_attributes=attributes if isinstance(attributes, Mapping) else None,
        )


def is_sns_confirmation_url(url: str) -> bool:
    """True for `https://sns.<region>.amazonaws.com[.cn]/?Action=ConfirmSubscription&...`: the
    only URL `confirm_subscription` will GET, even from a verified message."""
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.username is None
        and parts.port is None
        and bool(_SNS_HOST.fullmatch(parts.hostname or ""))
        and parse_qs(parts.query).get("Action") == ["ConfirmSubscription"]
    )


def confirm_subscription(message: SnsMessage, *, get: HttpGet = http_get) -> None:
    """Confirm a verified SubscriptionConfirmation by GETting its SubscribeURL (through `get`).

    Call it only for topics you meant to subscribe to (the verifier's allowlist already says
    which). Raises SnsVerificationFailed if the message is not a confirmation, the URL is not
    SNS's, or SNS does not answer 2xx.
    """
    if not message.is_subscription_confirmation or message.subscribe_url is None:
        raise SnsConfirmationFailed("not a SubscriptionConfirmation")
    if not is_sns_confirmation_url(message.subscribe_url):
        raise SnsConfirmationFailed("SubscribeURL is not an SNS confirmation URL")
    status = get(message.subscribe_url)
    if not 200 <= status < 300:
        raise SnsConfirmationFailed(f"SNS answered {status} to the confirmation")
