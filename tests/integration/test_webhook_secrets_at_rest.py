"""Webhook signing secrets at rest: sealed with KMS envelope encryption (moto's KMS over HTTP)
under the webhook secrets key, bound to {tenant_id, subscription_id}; opened for signing through
a small cache; rotation keeps both sealed; legacy plaintext rows are read as they are, sealed at
their next rotation, and all at once by `seal_legacy_secrets`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_masking.exceptions import (
    DataMaskingContextMismatchError,
    DataMaskingDecryptKeyError,
)

from shared import kms_encryption
from shared.clock import utc_now
from shared.config import get_settings
from shared.ids import new_id
from shared.webhooks import signing_secrets, subscriptions
from shared.webhooks.subscriptions import WebhookSubscriptionRecord
from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud


@pytest.fixture
def api_a(webhooks_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(webhooks_handler, tenant_a)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    signing_secrets.open_sealed.cache_clear()
    yield
    signing_secrets.open_sealed.cache_clear()


def _raw_row(tenant_id: str, subscription_id: str) -> dict[str, Any]:
    table = boto3.client("dynamodb")
    item: dict[str, Any] = table.get_item(
        TableName=get_settings().webhook_subscriptions_table,
        Key={"tenant_id": {"S": tenant_id}, "subscription_id": {"S": subscription_id}},
        ConsistentRead=True,
    )["Item"]
    return item


def _subscribe(api: LambdaApi) -> dict[str, Any]:
    reply = api.post("/webhooks", body={"url": "http://127.0.0.1:9999/in", "event_types": ["*"]})
    assert reply.status == 201, reply.text
    created: dict[str, Any] = reply.json
    return created


def test_a_new_secret_is_stored_sealed_and_opens_only_for_its_own_subscription(
    api_a: LambdaApi, tenant_a: Caller, test_cloud: TestCloud
) -> None:
    created = _subscribe(api_a)
    secret, sub_id = created["secret"], created["id"]
    row = _raw_row(tenant_a.tenant_id, sub_id)
    assert "secret" not in row and "previous_secret" not in row
    sealed = row["secret_sealed"]["S"]
    assert secret not in sealed and secret.removeprefix("whsec_") not in str(row)
    assert signing_secrets.open_sealed(tenant_a.tenant_id, sub_id, sealed) == secret
    with pytest.raises(DataMaskingContextMismatchError):
        signing_secrets.open_sealed(tenant_a.tenant_id, new_id("wh"), sealed)  # copied onto another row
    with pytest.raises(DataMaskingContextMismatchError):
        signing_secrets.open_sealed(new_id("ten"), sub_id, sealed)
    record = subscriptions.get_subscription(tenant_a.tenant_id, sub_id)
    assert record is not None and record.signing_secrets(utc_now()) == [secret]


def test_the_credentials_key_does_not_open_a_webhook_secret(api_a: LambdaApi, tenant_a: Caller) -> None:
    created = _subscribe(api_a)
    sealed = _raw_row(tenant_a.tenant_id, created["id"])["secret_sealed"]["S"]
    context = {"tenant_id": tenant_a.tenant_id, "subscription_id": created["id"]}
    assert get_settings().webhook_secrets_key_arn != get_settings().credentials_key_arn
    with pytest.raises(DataMaskingDecryptKeyError):  # the SDK refuses a blob of a key it was not given
        kms_encryption.decrypt(sealed, key_setting="credentials_key_arn", context=context)


def test_rotation_keeps_both_sealed_during_the_overlap_only(api_a: LambdaApi, tenant_a: Caller) -> None:
    created = _subscribe(api_a)
    rotated = api_a.post(f"/webhooks/{created['id']}/rotate-secret")
    assert rotated.status == 200, rotated.text
    row = _raw_row(tenant_a.tenant_id, created["id"])
    assert {"secret_sealed", "previous_secret_sealed"} <= set(row) and "secret" not in row
    record = subscriptions.get_subscription(tenant_a.tenant_id, created["id"])
    assert record is not None and record.previous_secret_expires_at is not None
    now = utc_now()
    assert record.signing_secrets(now) == [rotated.json["secret"], created["secret"]]
    assert record.signing_secrets(record.previous_secret_expires_at + timedelta(seconds=1)) == [rotated.json["secret"]]


def test_opened_secrets_are_cached_per_sealed_blob(
    api_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _subscribe(api_a)
    record = subscriptions.get_subscription(tenant_a.tenant_id, created["id"])
    assert record is not None
    opened: list[str] = []
    real = kms_encryption.decrypt

    def counting(blob: str, **kwargs: Any) -> Any:
        opened.append(blob)
        return real(blob, **kwargs)

    monkeypatch.setattr(kms_encryption, "decrypt", counting)
    for _ in range(3):
        assert record.signing_secrets(utc_now()) == [created["secret"]]
    assert len(opened) == 1  # one KMS Decrypt, then the cache
    api_a.post(f"/webhooks/{created['id']}/rotate-secret")
    rotated = subscriptions.get_subscription(tenant_a.tenant_id, created["id"])
    assert rotated is not None
    rotated.signing_secrets(utc_now())
    assert len(opened) == 2  # the new blob is opened once; the old one (now previous) is cached


def _legacy(tenant_id: str, *, previous: str | None = None) -> WebhookSubscriptionRecord:
    """A row as written before secrets were sealed: plaintext secret (and previous one)."""
    now = utc_now()
    record = WebhookSubscriptionRecord(
        tenant_id=tenant_id,
        subscription_id=new_id("wh"),
        url="https://hooks.example.com/in",
        event_types={"*"},
        secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
        previous_secret=previous,
        previous_secret_expires_at=now + timedelta(hours=1) if previous else None,
        created_at=now,
        updated_at=now,
    )
    record.save()
    return record


def test_a_legacy_plaintext_row_is_read_as_it_is_and_sealed_at_its_next_rotation(
    api_a: LambdaApi, tenant_a: Caller
) -> None:
    legacy = _legacy(tenant_a.tenant_id)
    assert legacy.secret is not None
    assert legacy.signing_secrets(utc_now()) == [legacy.secret]
    rotated = api_a.post(f"/webhooks/{legacy.subscription_id}/rotate-secret")
    assert rotated.status == 200, rotated.text
    row = _raw_row(tenant_a.tenant_id, legacy.subscription_id)
    assert "secret" not in row and "previous_secret" not in row
    record = subscriptions.get_subscription(tenant_a.tenant_id, legacy.subscription_id)
    assert record is not None and record.signing_secrets(utc_now()) == [rotated.json["secret"], legacy.secret]


def test_seal_legacy_secrets_seals_every_plaintext_row_once(tenant_a: Caller, test_cloud: TestCloud) -> None:
    old_previous = "whsec_" + "WllYV1ZVVFNSUVBPTk1MS0pJSEdGRURDQkE="
    legacy = _legacy(tenant_a.tenant_id, previous=old_previous)
    assert subscriptions.seal_legacy_secrets() >= 1
    row = _raw_row(tenant_a.tenant_id, legacy.subscription_id)
    assert "secret" not in row and "previous_secret" not in row
    assert {"secret_sealed", "previous_secret_sealed"} <= set(row)
    record = subscriptions.get_subscription(tenant_a.tenant_id, legacy.subscription_id)
    assert record is not None and record.signing_secrets(utc_now()) == [legacy.secret, old_previous]
    assert subscriptions.seal_legacy_secrets() == 0  # nothing plaintext left anywhere


def test_a_row_without_a_secret_or_a_blob_holding_no_string_is_refused(tenant_a: Caller) -> None:
    now = utc_now()
    empty = WebhookSubscriptionRecord(
        tenant_id=tenant_a.tenant_id, subscription_id=new_id("wh"), url="u", event_types={"*"},
        created_at=now, updated_at=now,
    )  # fmt: skip
    with pytest.raises(ValueError, match="no signing secret"):
        empty.signing_secrets(now)
    context = {"tenant_id": tenant_a.tenant_id, "subscription_id": empty.subscription_id}
    not_a_string = kms_encryption.encrypt({"secret": "x"}, key_setting=signing_secrets.KEY_SETTING, context=context)
    with pytest.raises(ValueError, match="must hold a string"):
        signing_secrets.open_sealed(tenant_a.tenant_id, empty.subscription_id, not_a_string)
