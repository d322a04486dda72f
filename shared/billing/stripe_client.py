"""The one Stripe client factory: keys from settings (local) or Secrets Manager (AWS), base URL
from `stripe_api_base` (a local Stripe server in dev and tests).

`stripe` is imported inside these functions, never at module import: it costs ~0.4 s and only
the billing routes that talk to Stripe need it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.config import get_settings
from shared.errors import AppError, BadRequest, ConfigurationError, DependencyUnavailable, ValidationFailed

if TYPE_CHECKING:
    import stripe

# Stripe's own tolerance for old signatures; ours for timestamps ahead of our clock (clock skew).
SIGNATURE_TOLERANCE_SECONDS = 300
FUTURE_SKEW_SECONDS = 30


def _secret(direct: Any, arn: str | None, name: str) -> str:
    if direct is not None:
        return str(direct.get_secret_value())
    if arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(arn, max_age=300))
    raise ConfigurationError(f"{name} or {name}_ARN must be configured")


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    import stripe

    base = {"api": api_base} if api_base else None
    # Our own retries sit in the caller (Stripe redelivers webhooks; clients retry with the same
    # Idempotency-Key), so one network retry is enough here.
    return stripe.StripeClient(api_key, base_addresses=base, max_network_retries=1)  # type: ignore[arg-type]


def stripe_client() -> stripe.StripeClient:
    """The process's Stripe client for the configured key and base URL (cached per pair)."""
    settings = get_settings()
    key = _secret(settings.stripe_secret_key, settings.stripe_secret_key_arn, "STRIPE_SECRET_KEY")
    return _client(key, settings.stripe_api_base)


def webhook_secret() -> str:
    settings = get_settings()
    return _secret(settings.stripe_webhook_secret, settings.stripe_webhook_secret_arn, "STRIPE_WEBHOOK_SECRET")


def verified_event(payload: bytes, signature: str | None) -> stripe.Event:
    """The event in `payload` once `Stripe-Signature` proves Stripe sent it within the tolerance.

    `construct_event` refuses a bad signature and a timestamp older than the tolerance; a timestamp
    ahead of our clock by more than a small skew is refused here (a replay prepared in advance)."""
    import stripe

    secret = webhook_secret()
    try:
        event: stripe.Event = stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        signed_at, _ = stripe.WebhookSignature._get_timestamp_and_signatures(signature or "", "v1")
    except stripe.SignatureVerificationError as exc:
        raise BadRequest("the Stripe signature does not verify", code="stripe_signature_invalid") from exc
    except ValueError as exc:  # the signature matched but the body is not JSON: never from Stripe
        raise BadRequest("the Stripe event is not JSON", code="stripe_signature_invalid") from exc
    if signed_at > utc_now().timestamp() + FUTURE_SKEW_SECONDS:
        raise BadRequest("the Stripe signature is dated in the future", code="stripe_signature_invalid")
    return event


def translated_stripe_error(exc: Exception) -> AppError:
    """Stripe's errors on our small taxonomy: a reused idempotency key is the client's 422, the
    rest is a dependency failure (details stay in our logs, never in the answer)."""
    import stripe

    if isinstance(exc, stripe.IdempotencyError):
        return ValidationFailed(
            "this Idempotency-Key was already used with a different request", code="idempotency_key_reused"
        )
    return DependencyUnavailable("Stripe is unavailable; nothing was changed", code="payment_provider_unavailable")
