"""Billing through billing_api's handler against the local Stripe (localstripe + our extras, over
HTTP) and moto: checkout, portal, and Stripe's webhooks signed with stripe's own helper."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from localcloud.local_stripe import LocalStripe, complete_checkout, signed_event
from shared.billing.models import BillingRecord, StripeEventRecord, get_billing
from shared.clock import utc_now
from shared.config import get_settings
from shared.events.models import EventRecord
from shared.persistence import get_or_none
from shared.tenants.models import get_tenant
from tests.support.api import Caller, LambdaApi, Reply, build_event, idempotency_header, invoke
from tests.support.tenants import new_tenant

ORIGIN = "http://localhost:3000"


@pytest.fixture
def grace_over(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings as if every grace period had ended (a grace period of 0 days)."""
    monkeypatch.setenv("BILLING_GRACE_PERIOD_DAYS", "0")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def tenant_a(auth_handler: Any) -> Caller:
    """Billing starts where a new tenant does: on the free plan (other suites default to team)."""
    return new_tenant(auth_handler, plan="free")[0]


@pytest.fixture
def tenant_b(auth_handler: Any) -> Caller:
    return new_tenant(auth_handler, plan="free")[0]


@pytest.fixture(scope="module")
def billing_handler(local_stripe: LocalStripe) -> Any:
    from functions.billing_api.app import lambda_handler

    return lambda_handler


@pytest.fixture
def billing_a(billing_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(billing_handler, tenant_a)


@pytest.fixture
def billing_b(billing_handler: Any, tenant_b: Caller) -> LambdaApi:
    return LambdaApi(billing_handler, tenant_b)


def stripe_client() -> Any:
    from shared.billing.stripe_client import stripe_client as client

    return client()


def post_webhook(handler: Any, body: bytes, header: str | None) -> Reply:
    headers = {"Stripe-Signature": header} if header is not None else {}
    return invoke(handler, build_event("POST", "/billing/stripe-webhook", raw_body=body.decode(), headers=headers))


def send(handler: Any, event_type: str, obj: dict[str, Any], **kwargs: Any) -> Reply:
    body, header = signed_event(event_type, obj, **kwargs)
    return post_webhook(handler, body, header)


def start_checkout(api: LambdaApi, plan: str = "pro", key: dict[str, str] | None = None) -> Reply:
    body = {"plan": plan, "success_url": f"{ORIGIN}/billing/ok", "cancel_url": f"{ORIGIN}/billing/cancel"}
    return api.post("/billing/checkout", body=body, headers=key or idempotency_header())


def paid_checkout(api: LambdaApi, local_stripe: LocalStripe) -> tuple[dict[str, Any], dict[str, Any]]:
    """A checkout paid on the local Stripe (no webhook sent yet): the session and its subscription."""
    reply = start_checkout(api)
    assert reply.status == 200, reply.text
    return complete_checkout(local_stripe.url, reply.json["id"])


def upgraded(api: LambdaApi, local_stripe: LocalStripe) -> tuple[dict[str, Any], dict[str, Any]]:
    session, subscription = paid_checkout(api, local_stripe)
    reply = send(api.handler, "checkout.session.completed", session)
    assert reply.status == 200 and reply.json["outcome"] == "processed", reply.text
    return session, subscription


def plan_of(tenant_id: str) -> str:
    tenant = get_tenant(tenant_id)
    assert tenant is not None
    return tenant.plan


def billing_events(tenant_id: str, event_type: str) -> list[dict[str, Any]]:
    rows = EventRecord.query(tenant_id, filter_condition=EventRecord.type == event_type)
    return [row.to_event().data for row in rows]


def test_plans_are_public(billing_handler: Any) -> None:
    reply = LambdaApi(billing_handler).get("/billing/plans")
    assert reply.status == 200
    plans = {p["name"]: p for p in reply.json["plans"]}
    assert list(plans) == ["free", "pro", "team"]
    assert plans["free"]["limits"]["bots"] == 3 and plans["free"]["purchasable"] is False
    assert plans["pro"]["purchasable"] is True and plans["team"]["limits"]["backtests_per_month"] is None


def test_checkout_then_completed_webhook_makes_the_tenant_pro(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    assert plan_of(tenant_a.tenant_id) == "free"
    session, _ = upgraded(billing_a, local_stripe)
    assert session["client_reference_id"] == tenant_a.tenant_id
    assert plan_of(tenant_a.tenant_id) == "pro"
    changes = billing_events(tenant_a.tenant_id, "billing.plan_changed")
    assert [(c["old_plan"], c["new_plan"]) for c in changes] == [("free", "pro")]
    customer = stripe_client().v1.customers.retrieve(session["customer"])
    assert customer.metadata["tenant_id"] == tenant_a.tenant_id

    view = billing_a.get("/billing/subscription")
    assert view.status == 200
    assert view.json["plan"] == "pro" and view.json["status"] == "active"
    assert view.json["current_period_end"] is not None and view.json["cancel_at_period_end"] is False
    usage = {u["limit"]: u for u in view.json["usage"]}
    assert usage["bots"] == {"limit": "bots", "used": 0, "allowed": 25}
    assert set(usage) == {"bots", "webhook_subscriptions", "backtests_per_month"}

    again = start_checkout(billing_a)
    assert again.status == 409 and again.error_code == "already_subscribed"


def test_a_retried_checkout_returns_the_same_session_and_customer(billing_a: LambdaApi, tenant_a: Caller) -> None:
    key = idempotency_header()
    first, retry = start_checkout(billing_a, key=key), start_checkout(billing_a, key=key)
    assert first.status == retry.status == 200
    assert first.json == retry.json
    other = start_checkout(billing_a)  # a new attempt: a new session for the same customer
    assert other.json["id"] != first.json["id"]
    sessions = [stripe_client().v1.checkout.sessions.retrieve(r.json["id"]) for r in (first, other)]
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and {s.customer for s in sessions} == {row.stripe_customer_id}


def test_the_same_key_with_another_plan_is_refused(billing_a: LambdaApi) -> None:
    key = idempotency_header()
    assert start_checkout(billing_a, "pro", key).status == 200
    reply = start_checkout(billing_a, "team", key)  # another plan: another Stripe key, a new session
    assert reply.status == 200
    body = {"plan": "pro", "success_url": f"{ORIGIN}/elsewhere", "cancel_url": f"{ORIGIN}/billing/cancel"}
    changed = billing_a.post("/billing/checkout", body=body, headers=key)
    assert changed.status == 422 and changed.error_code == "idempotency_key_reused"


def test_concurrent_first_checkouts_share_one_customer(billing_a: LambdaApi, tenant_a: Caller) -> None:
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: start_checkout(billing_a), range(4)))
    assert all(r.status == 200 for r in replies), [r.text for r in replies]
    customers = {stripe_client().v1.checkout.sessions.retrieve(r.json["id"]).customer for r in replies}
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and customers == {row.stripe_customer_id}


def test_portal_session_for_the_tenants_own_customer(
    billing_a: LambdaApi, billing_b: LambdaApi, tenant_a: Caller
) -> None:
    before = billing_b.post("/billing/portal", body={"return_url": f"{ORIGIN}/settings"})
    assert before.status == 409 and before.error_code == "no_billing_customer"
    assert start_checkout(billing_a).status == 200
    reply = billing_a.post("/billing/portal", body={"return_url": f"{ORIGIN}/settings"})
    assert reply.status == 200 and "/portal/bps_" in reply.json["url"]
    row = get_billing(tenant_a.tenant_id)
    assert row is not None
    assert stripe_client().v1.customers.retrieve(row.stripe_customer_id).id == row.stripe_customer_id


@pytest.mark.parametrize(
    "body",
    [
        {"plan": "pro", "success_url": "https://evil.example/ok", "cancel_url": f"{ORIGIN}/c"},
        {"plan": "pro", "success_url": f"{ORIGIN}/ok", "cancel_url": "javascript:alert(1)//x"},
        {"plan": "pro", "success_url": "http://localhost:3000@evil.example/", "cancel_url": f"{ORIGIN}/c"},
        {"plan": "gold", "success_url": f"{ORIGIN}/ok", "cancel_url": f"{ORIGIN}/c"},
        {"plan": "free", "success_url": f"{ORIGIN}/ok", "cancel_url": f"{ORIGIN}/c"},
        {"plan": "pro", "success_url": f"{ORIGIN}/ok", "cancel_url": f"{ORIGIN}/c", "customer": "cus_other"},
        {"plan": "pro", "success_url": f"{ORIGIN}/ok"},
    ],
)
def test_bad_checkout_input_is_a_4xx_and_writes_nothing(
    billing_a: LambdaApi, tenant_a: Caller, body: dict[str, Any]
) -> None:
    reply = billing_a.post("/billing/checkout", body=body, headers=idempotency_header())
    assert reply.status == 422, reply.text
    assert reply.error_code in ("validation_error", "origin_not_allowed")
    assert get_billing(tenant_a.tenant_id) is None


def test_checkout_requires_an_idempotency_key_and_the_admin_scope(billing_handler: Any, tenant_a: Caller) -> None:
    body = {"plan": "pro", "success_url": f"{ORIGIN}/ok", "cancel_url": f"{ORIGIN}/c"}
    missing = LambdaApi(billing_handler, tenant_a).post("/billing/checkout", body=body)
    assert missing.status == 400 and missing.error_code == "idempotency_key_required"
    reader = Caller(tenant_a.tenant_id, tenant_a.principal_id, scopes=("read",))
    refused = LambdaApi(billing_handler, reader).post("/billing/checkout", body=body, headers=idempotency_header())
    assert refused.status == 403
    assert get_billing(tenant_a.tenant_id) is None


def _tampered(body: bytes, header: str) -> tuple[bytes, str | None]:
    return body.replace(b'"livemode": false', b'"livemode": true'), header


def _wrong_secret(body: bytes, header: str) -> tuple[bytes, str | None]:
    import stripe

    return body, stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_someone_else")


def _signed_at(offset: int) -> Any:
    def sign(body: bytes, header: str) -> tuple[bytes, str | None]:
        import stripe

        secret = os.environ["STRIPE_WEBHOOK_SECRET"]
        when = int(time.time()) + offset
        return body, stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=when)

    return sign


@pytest.mark.parametrize(
    "forge",
    [
        _tampered,
        _wrong_secret,
        _signed_at(-301 - 5),  # older than the 300 s tolerance
        _signed_at(+600),  # dated in the future
        lambda body, header: (body, None),  # no signature
        lambda body, header: (body, "t=abc,v1=zz"),  # unreadable
    ],
    ids=["tampered", "wrong-secret", "too-old", "future", "missing", "garbage"],
)
def test_unverifiable_webhooks_are_refused_and_change_nothing(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe, forge: Any
) -> None:
    session, _ = paid_checkout(billing_a, local_stripe)
    body, header = signed_event("checkout.session.completed", session, event_id="evt_forged_" + tenant_a.tenant_id)
    forged_body, forged_header = forge(body, header)
    reply = post_webhook(billing_a.handler, forged_body, forged_header)
    assert reply.status == 400 and reply.error_code == "stripe_signature_invalid"
    assert plan_of(tenant_a.tenant_id) == "free"
    assert get_or_none(StripeEventRecord, "evt_forged_" + tenant_a.tenant_id) is None
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.subscription_id is None


def test_an_event_is_applied_once_even_when_redelivered(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    session, _ = paid_checkout(billing_a, local_stripe)
    body, header = signed_event("checkout.session.completed", session)
    first, second = post_webhook(billing_a.handler, body, header), post_webhook(billing_a.handler, body, header)
    assert (first.json["outcome"], second.json["outcome"]) == ("processed", "duplicate")
    assert len(billing_events(tenant_a.tenant_id, "billing.plan_changed")) == 1


def test_concurrent_deliveries_of_one_event_are_applied_once(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    session, _ = paid_checkout(billing_a, local_stripe)
    body, header = signed_event("checkout.session.completed", session)
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: post_webhook(billing_a.handler, body, header), range(6)))
    assert all(r.status == 200 for r in replies), [r.text for r in replies]
    assert sorted(r.json["outcome"] for r in replies).count("processed") == 1
    assert plan_of(tenant_a.tenant_id) == "pro"
    assert len(billing_events(tenant_a.tenant_id, "billing.plan_changed")) == 1


def test_updated_before_created_ends_in_stripes_current_state(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    _, created = paid_checkout(billing_a, local_stripe)
    updated = stripe_client().v1.subscriptions.update(created["id"], {"cancel_at_period_end": True}).to_dict()
    assert send(billing_a.handler, "customer.subscription.updated", updated).json["outcome"] == "processed"
    assert send(billing_a.handler, "customer.subscription.created", created).json["outcome"] == "processed"
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.cancel_at_period_end is True and row.status == "active"
    assert plan_of(tenant_a.tenant_id) == "pro"
    assert billing_a.get("/billing/subscription").json["cancel_at_period_end"] is True


def _invoice(subscription: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    """An invoice as API versions since 2025-03-31 send it (the subscription under `parent`)."""
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": subscription["customer"],
        "parent": {"subscription_details": {"subscription": subscription["id"]}},
    }


def test_payment_failed_keeps_the_plan_for_the_grace_period_then_paid_recovers(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    _, subscription = upgraded(billing_a, local_stripe)
    failed = send(billing_a.handler, "invoice.payment_failed", _invoice(subscription, "in_failed"))
    assert failed.json["outcome"] == "processed"
    assert plan_of(tenant_a.tenant_id) == "pro"  # within the grace period
    [notice] = billing_events(tenant_a.tenant_id, "billing.payment_failed")
    assert notice["invoice_id"] == "in_failed" and notice["plan"] == "pro"
    view = billing_a.get("/billing/subscription").json
    assert view["payment_failed_at"] is not None and view["grace_until"] is not None

    paid = send(billing_a.handler, "invoice.paid", _invoice(subscription, "in_failed"))
    assert paid.json["outcome"] == "processed"
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.payment_failed_at is None and row.grace_shard is None
    assert plan_of(tenant_a.tenant_id) == "pro"


def test_an_old_failure_arriving_after_the_payment_changes_nothing(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    _, subscription = upgraded(billing_a, local_stripe)
    now = int(time.time())
    send(billing_a.handler, "invoice.paid", _invoice(subscription, "in_1"), created=now)
    late = send(billing_a.handler, "invoice.payment_failed", _invoice(subscription, "in_0"), created=now - 60)
    assert late.json["outcome"] == "processed"
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.payment_failed_at is None
    assert billing_events(tenant_a.tenant_id, "billing.payment_failed") == []


def test_after_the_grace_period_the_tenant_drops_to_free_and_a_payment_restores_it(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe, request: pytest.FixtureRequest
) -> None:
    from functions.billing_grace_check.app import lambda_handler as grace_check
    from localcloud.functions import FakeLambdaContext

    _, subscription = upgraded(billing_a, local_stripe)
    send(billing_a.handler, "invoice.payment_failed", _invoice(subscription, "in_x"))
    assert plan_of(tenant_a.tenant_id) == "pro"
    request.getfixturevalue("grace_over")
    context: Any = FakeLambdaContext("billing_grace_check", 512, 60)
    grace_check({}, context)
    assert plan_of(tenant_a.tenant_id) == "free"
    changes = billing_events(tenant_a.tenant_id, "billing.plan_changed")
    assert [(c["new_plan"], c["reason"]) for c in changes][-1] == ("free", "grace_period_expired")
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.grace_shard is None  # off the sweep's index once downgraded

    send(billing_a.handler, "invoice.paid", _invoice(subscription, "in_x"))
    assert plan_of(tenant_a.tenant_id) == "pro"


def test_the_grace_sweep_leaves_tenants_within_their_grace_period(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    from shared.billing.grace import end_expired_grace_periods

    _, subscription = upgraded(billing_a, local_stripe)
    send(billing_a.handler, "invoice.payment_failed", _invoice(subscription, "in_y"))
    end_expired_grace_periods(utc_now() + timedelta(days=6))
    assert plan_of(tenant_a.tenant_id) == "pro"
    end_expired_grace_periods(utc_now() + timedelta(days=8))
    assert plan_of(tenant_a.tenant_id) == "free"


def test_subscription_deleted_brings_the_tenant_back_to_free(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    _, subscription = upgraded(billing_a, local_stripe)
    canceled = stripe_client().v1.subscriptions.cancel(subscription["id"]).to_dict()
    assert send(billing_a.handler, "customer.subscription.deleted", canceled).json["outcome"] == "processed"
    assert plan_of(tenant_a.tenant_id) == "free"
    view = billing_a.get("/billing/subscription").json
    assert view["plan"] == "free" and view["status"] == "canceled"
    changes = billing_events(tenant_a.tenant_id, "billing.plan_changed")
    assert [(c["new_plan"], c["reason"]) for c in changes][-1] == ("free", "stripe:customer.subscription.deleted")


def test_customer_deleted_ends_the_plan_and_forgets_the_customer(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    session, _ = upgraded(billing_a, local_stripe)
    customer = {"id": session["customer"], "object": "customer", "deleted": True}
    assert send(billing_a.handler, "customer.deleted", customer).json["outcome"] == "processed"
    assert plan_of(tenant_a.tenant_id) == "free"
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.stripe_customer_id is None and row.status == "canceled"


def test_a_webhook_for_one_tenants_customer_never_changes_another(
    billing_a: LambdaApi, billing_b: LambdaApi, tenant_a: Caller, tenant_b: Caller, local_stripe: LocalStripe
) -> None:
    session_a, subscription_a = upgraded(billing_a, local_stripe)
    session_b, _ = paid_checkout(billing_b, local_stripe)
    before_a = get_billing(tenant_a.tenant_id)
    # B's customer, but A's tenant id and subscription: the row of B's customer decides, and A's
    # subscription does not belong to it.
    forged = {**session_b, "client_reference_id": tenant_a.tenant_id, "subscription": subscription_a["id"]}
    assert send(billing_b.handler, "checkout.session.completed", forged).status == 200
    foreign = {**subscription_a, "customer": session_b["customer"]}
    assert send(billing_b.handler, "customer.subscription.updated", foreign).status == 200
    assert plan_of(tenant_b.tenant_id) == "free" and plan_of(tenant_a.tenant_id) == "pro"
    after_a, after_b = get_billing(tenant_a.tenant_id), get_billing(tenant_b.tenant_id)
    assert before_a is not None and after_a is not None and after_b is not None
    assert after_a.attribute_values == before_a.attribute_values
    assert after_b.subscription_id is None
    assert session_a["customer"] != session_b["customer"]


def test_unknown_customers_and_unhandled_types_are_acknowledged(billing_handler: Any) -> None:
    unknown = send(billing_handler, "customer.subscription.updated", {"id": "sub_x", "customer": "cus_nobody"})
    assert unknown.status == 200 and unknown.json["outcome"] == "ignored"
    other = send(billing_handler, "charge.refunded", {"id": "ch_x", "customer": "cus_nobody"})
    assert other.status == 200 and other.json["outcome"] == "ignored"
    assert BillingRecord.by_customer.count("cus_nobody") == 0


@pytest.fixture
def keys_from_secrets_manager(monkeypatch: pytest.MonkeyPatch, local_stripe: LocalStripe) -> Iterator[None]:
    """As deployed: no key in the environment, only the template's secrets (holding the local keys)."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from localcloud.local_stripe import LOCAL_SECRET_KEY, LOCAL_WEBHOOK_SECRET

    secrets_manager = boto3.client("secretsmanager")
    secrets_manager.put_secret_value(SecretId=os.environ["STRIPE_SECRET_KEY_ARN"], SecretString=LOCAL_SECRET_KEY)
    secrets_manager.put_secret_value(
        SecretId=os.environ["STRIPE_WEBHOOK_SECRET_ARN"], SecretString=LOCAL_WEBHOOK_SECRET
    )
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    get_settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # an earlier read of these secrets (another value) is cached 300 s
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def test_keys_come_from_secrets_manager_when_deployed(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe, keys_from_secrets_manager: None
) -> None:
    upgraded(billing_a, local_stripe)
    assert plan_of(tenant_a.tenant_id) == "pro"


def test_without_a_configured_key_nothing_is_attempted(
    billing_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    monkeypatch.delenv("STRIPE_SECRET_KEY_ARN")
    get_settings.cache_clear()
    try:
        reply = start_checkout(billing_a)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert reply.status == 500 and reply.error_code == "configuration_error"
    assert "STRIPE" not in reply.text
    assert get_billing(tenant_a.tenant_id) is None


def test_stripe_unreachable_is_a_503_and_nothing_is_written(
    billing_a: LambdaApi, tenant_a: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    try:
        reply = start_checkout(billing_a)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert reply.status == 503 and reply.error_code == "payment_provider_unavailable"
    assert get_billing(tenant_a.tenant_id) is None


def test_a_signed_body_that_is_not_json_is_refused(billing_handler: Any) -> None:
    import stripe

    body = "not json at all"
    header = stripe.WebhookSignature.generate_signature_header(body, os.environ["STRIPE_WEBHOOK_SECRET"])
    reply = post_webhook(billing_handler, body.encode(), header)
    assert reply.status == 400 and reply.error_code == "stripe_signature_invalid"


def test_an_older_subscription_ending_does_not_end_the_current_one(
    billing_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    session, _ = upgraded(billing_a, local_stripe)
    client = stripe_client()
    old = client.v1.subscriptions.create({"customer": session["customer"], "items": [{"plan": "price_team_local"}]})
    ended = client.v1.subscriptions.cancel(old.id).to_dict()
    assert send(billing_a.handler, "customer.subscription.deleted", ended).json["outcome"] == "processed"
    assert plan_of(tenant_a.tenant_id) == "pro"
    row = get_billing(tenant_a.tenant_id)
    assert row is not None and row.subscription_id != old.id and row.status == "active"


def test_a_snapstart_restore_drops_the_cached_stripe_client(local_stripe: LocalStripe) -> None:
    from shared.billing import stripe_client as module
    from shared.snapstart import refresh_after_restore

    module.stripe_client()
    assert module._client.cache_info().currsize >= 1
    refresh_after_restore()
    assert module._client.cache_info().currsize == 0


# ------------------------------------------------------------------ downgrades stop excess bots


def _running_bots(bots: LambdaApi, count: int) -> list[str]:
    """`count` paper bots, created and started one after the other (oldest first). Signal bots:
    running, but never ticked, so they read no market data other suites steer."""
    from tests.support import payloads

    ids = []
    for n in range(count):
        body = payloads.bot(name=f"bot {n}", strategy={"type": "signal", "params": {}})
        created = bots.post("/bots", body=body, headers=idempotency_header())
        assert created.status == 201, created.text
        assert bots.post(f"/bots/{created.json['id']}/start").status == 200
        ids.append(created.json["id"])
    return ids


def _stopped_for(tenant_id: str) -> dict[str, str]:
    return {
        data["bot_id"]: data["reason"]
        for data in billing_events(tenant_id, "bot.stopped")
        if data.get("reason") in {"plan_downgraded", "payment_failed"}
    }


def test_subscription_deleted_stops_the_newest_bots_beyond_the_free_plan(
    billing_a: LambdaApi, bots_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    _, subscription = upgraded(billing_a, local_stripe)
    bots = _running_bots(bots_a, 5)
    canceled = stripe_client().v1.subscriptions.cancel(subscription["id"]).to_dict()
    assert send(billing_a.handler, "customer.subscription.deleted", canceled).json["outcome"] == "processed"
    assert plan_of(tenant_a.tenant_id) == "free"  # 3 bots
    assert _stopped_for(tenant_a.tenant_id) == {bots[4]: "plan_downgraded", bots[3]: "plan_downgraded"}
    statuses = {bot_id: bots_a.get(f"/bots/{bot_id}").json["status"] for bot_id in bots}
    assert statuses == {**dict.fromkeys(bots[:3], "running"), **dict.fromkeys(bots[3:], "stopped")}


def test_a_grace_period_that_runs_out_stops_excess_bots_for_the_failed_payment(
    billing_a: LambdaApi, bots_a: LambdaApi, tenant_a: Caller, local_stripe: LocalStripe
) -> None:
    from shared.billing.grace import end_expired_grace_periods

    _, subscription = upgraded(billing_a, local_stripe)
    bots = _running_bots(bots_a, 4)
    send(billing_a.handler, "invoice.payment_failed", _invoice(subscription, "in_g"))
    assert _stopped_for(tenant_a.tenant_id) == {}  # the plan holds during the grace period
    end_expired_grace_periods(utc_now() + timedelta(days=8))
    assert _stopped_for(tenant_a.tenant_id) == {bots[3]: "payment_failed"}


def test_a_crash_after_the_downgrade_heals_when_stripe_redelivers(
    billing_a: LambdaApi,
    bots_a: LambdaApi,
    tenant_a: Caller,
    local_stripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.billing import plan_changes

    _, subscription = upgraded(billing_a, local_stripe)
    bots = _running_bots(bots_a, 4)
    canceled = stripe_client().v1.subscriptions.cancel(subscription["id"]).to_dict()
    body, header = signed_event("customer.subscription.deleted", canceled)

    def crash(tenant_id: str, reason: str) -> list[str]:
        raise RuntimeError("the function died before stopping any bot")

    monkeypatch.setattr(plan_changes, "enforce_plan_limits", crash)
    assert post_webhook(billing_a.handler, body, header).status == 500  # Stripe will retry
    assert plan_of(tenant_a.tenant_id) == "free" and _stopped_for(tenant_a.tenant_id) == {}
    monkeypatch.undo()
    redelivered = post_webhook(billing_a.handler, body, header)
    assert redelivered.json["outcome"] == "duplicate"
    assert _stopped_for(tenant_a.tenant_id) == {bots[3]: "plan_downgraded"}


def test_usage_shows_what_the_plan_limits_count(billing_a: LambdaApi, bots_a: LambdaApi, tenant_a: Caller) -> None:
    from functions.backtests_api.app import lambda_handler as backtests_handler
    from tests.support.backtests import backtest_body, key

    _running_bots(bots_a, 2)
    backtests = LambdaApi(backtests_handler, tenant_a)
    assert backtests.post("/backtests", body=backtest_body(), headers=key()).status == 202
    usage = {u["limit"]: (u["used"], u["allowed"]) for u in billing_a.get("/billing/subscription").json["usage"]}
    assert usage == {"bots": (2, 3), "backtests_per_month": (1, 10), "webhook_subscriptions": (0, 1)}
