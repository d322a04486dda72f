"""ccxt's exception classes mapped onto our taxonomy, in one place (after freqtrade's approach).

The order matters: ccxt's hierarchy nests (RateLimitExceeded is a NetworkError; InsufficientFunds
is an ExchangeError), so the most specific classes are tested first.
"""

from __future__ import annotations

from types import ModuleType

from shared.errors import (
    AppError,
    ExchangeAmbiguous,
    ExchangeOrderNotFound,
    ExchangeRejected,
    ExchangeTemporary,
)

# (ccxt class name, our reason code) for definite rejections.
_REJECTIONS = (
    ("InsufficientFunds", "insufficient_funds"),
    ("AuthenticationError", "authentication_failed"),
    ("PermissionDenied", "permission_denied"),
    ("AccountSuspended", "account_suspended"),
    ("BadSymbol", "bad_symbol"),
    ("InvalidOrder", "invalid_order"),
    ("BadRequest", "bad_request"),
    ("ArgumentsRequired", "bad_request"),
    ("NotSupported", "not_supported"),
    ("OperationRejected", "operation_rejected"),
)
# Some exchanges answer definite refusals with codes ccxt leaves as a plain ExchangeError; the
# code is read here (never passed on: the message can carry request details).
_REJECTION_CODES = (
    ("EAPI:Invalid key", "authentication_failed"),
    ("EAPI:Invalid signature", "authentication_failed"),
    ("EGeneral:Permission denied", "permission_denied"),
    ("EGeneral:Invalid arguments", "invalid_order"),
    ("EOrder:Cost minimum not met", "invalid_order"),
    ("EOrder:Invalid price", "invalid_order"),
    ("EOrder:Orders limit exceeded", "invalid_order"),
)
# Refusals that prove nothing was done: retrying later is safe.
_NOTHING_DONE = ("RateLimitExceeded", "DDoSProtection", "InvalidNonce", "OnMaintenance")


def translate(errors: ModuleType, exc: Exception, *, creating: bool) -> AppError:
    """Our error for a ccxt exception. `creating` marks order creation, where a timeout or a
    server error leaves the outcome unknown rather than merely failed."""
    # Only the class name travels on: ccxt's messages can carry request URLs and headers.
    name = type(exc).__name__
    if isinstance(exc, errors.OrderNotFound):
        return ExchangeOrderNotFound("the exchange does not know this order")
    for cls_name in _NOTHING_DONE:
        if isinstance(exc, getattr(errors, cls_name)):
            return ExchangeTemporary(f"exchange refused the request for now ({name})")
    for cls_name, reason in _REJECTIONS:
        if isinstance(exc, getattr(errors, cls_name)):
            return ExchangeRejected(f"the exchange rejected the request ({name})", reason=reason)
    text = str(exc)
    for code, reason in _REJECTION_CODES:
        if code in text:
            return ExchangeRejected(f"the exchange rejected the request ({code})", reason=reason)
    if creating:
        # Timeouts, 5xx, "status unknown", unparseable answers: the order may exist.
        return ExchangeAmbiguous(f"order outcome unknown ({name})", details={"error": name})
    return ExchangeTemporary(f"exchange unavailable ({name})")
