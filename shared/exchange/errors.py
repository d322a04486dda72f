"""ccxt's exception classes mapped onto our taxonomy, in one place (after freqtrade's approach).

The order matters: ccxt's hierarchy nests (RateLimitExceeded is a NetworkError; InsufficientFunds
is an ExchangeError), so the most specific classes are tested first.
"""

from __future__ import annotations

import re
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
# "This client order id is already in use": the exchange holds an order with our id, so the
# order exists. ccxt files most of these under InvalidOrder or BadRequest, which would read as a
# final rejection and lose track of a live order; they are tested first. One pattern per
# exchange's answer (the text is only matched, never passed on).
DUPLICATE_CLIENT_ID_ANSWERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Spot: HTTP 400 {"code": -2010, "msg": "Duplicate order sent."} while the first is live.
    ("binance, binanceus", re.compile(r"Duplicate order sent")),
    # USD-M/COIN-M futures: -4116 DUPLICATED_CLIENT_ORDER_ID.
    ("binance futures", re.compile(r'"code"\s*:\s*-4116\b')),
    # {"sCode": "51016", "sMsg": "Duplicated clOrdId"}.
    ("okx", re.compile(r'"sCode"\s*:\s*"51016"|Duplicated clOrdId')),
    # 110072 "OrderLinkedID is duplicate" (v5 unified); 170141 / 12141 "Duplicate clientOrderId" (spot).
    ("bybit", re.compile(r'"retCode"\s*:\s*(110072|170141|12141)\b|OrderLinkedID is duplicate')),
    # Kraken enforces cl_ord_id uniqueness among open orders: "EOrder:Duplicate order".
    ("kraken", re.compile(r"EOrder:Duplicate order")),
    # {"code": "400100", "msg": "clientOid duplicated"}; futures 126044 "clientOid duplicate".
    ("kucoin", re.compile(r"clientOid\s+duplicat|\"126044\"", re.IGNORECASE)),
    # Coinbase: ccxt raises its unclassified create refusals as a plain ExchangeError, already
    # ambiguous (looked up) on create; this names a duplicate failure reason explicitly.
    ("coinbase", re.compile(r"DUPLICATE_CLIENT_ORDER_ID|duplicate client_order_id", re.IGNORECASE)),
)


def is_duplicate_client_id(errors: ModuleType, exc: Exception) -> bool:
    """Whether an exchange's refusal says an order with our client id already exists."""
    if isinstance(exc, errors.DuplicateOrderId):
        return True
    text = str(exc)
    return any(pattern.search(text) for _, pattern in DUPLICATE_CLIENT_ID_ANSWERS)


# Refusals that prove nothing was done: retrying later is safe.
_NOTHING_DONE = ("RateLimitExceeded", "DDoSProtection", "InvalidNonce", "OnMaintenance")


def translate(errors: ModuleType, exc: Exception, *, creating: bool) -> AppError:
    """Our error for a ccxt exception. `creating` marks order creation, where a timeout or a
    server error leaves the outcome unknown rather than merely failed."""
    # Only the class name travels on: ccxt's messages can carry request URLs and headers.
    name = type(exc).__name__
    if isinstance(exc, errors.OrderNotFound):
        return ExchangeOrderNotFound("the exchange does not know this order")
    if creating and is_duplicate_client_id(errors, exc):
        # Not a rejection: an order with this client id exists. Only a lookup can say its state.
        return ExchangeAmbiguous(
            "the exchange already holds an order with this client order id",
            details={"error": "duplicate_client_order_id"},
        )
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
