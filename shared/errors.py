"""The error hierarchy, with one root (`AppError`) for every error the code raises on purpose.
The web layer maps it to HTTP once (shared.web); workers map it to retry (temporary) or
record-and-publish (permanent). The JSON error body is built here and nowhere else."""

from __future__ import annotations

from typing import Any, ClassVar


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """`{"error": {"code", "message", "details"}}`: the one shape of every error answer."""
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


class AppError(Exception):
    """An error with a stable machine-readable code. Its message is shown to the client unless
    `message_is_public` is False (then the client sees only the code)."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    message_is_public: ClassVar[bool] = True
    headers: dict[str, str]

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | list[Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] | list[Any] = details if details is not None else {}
        self.error_code = code or self.code
        self.headers = {}

    def to_body(self) -> dict[str, Any]:
        if not self.message_is_public:
            return error_body(self.error_code, "internal error")
        return error_body(self.error_code, self.message, self.details)


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class PlanLimitReached(AppError):
    """The tenant's plan does not allow this; `details` name the limit and the plan that lifts it."""

    status = 402
    code = "plan_limit"

    def __init__(
        self, message: str, *, limit: str, plan: str, allowed: int | bool | None, upgrade_to: str | None
    ) -> None:
        super().__init__(message, details={"limit": limit, "plan": plan, "allowed": allowed, "upgrade_to": upgrade_to})


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after_seconds}, code=code)
        self.headers["Retry-After"] = str(retry_after_seconds)


class DependencyUnavailable(AppError):
    """A downstream service (AWS, an exchange) is temporarily unavailable; retrying may succeed."""

    status = 503
    code = "dependency_unavailable"


class ExchangeTemporary(DependencyUnavailable):
    """The exchange refused or could not be reached, and nothing was done: safe to retry later
    (rate limit, nonce, outage on a read)."""

    code = "exchange_unavailable"


class ExchangeAmbiguous(AppError):
    """We asked the exchange to do something and cannot know whether it did (timeout, 5xx,
    "status unknown" on create). Never retried blindly: the reconciler finds out."""

    status = 502
    code = "exchange_outcome_unknown"


class ExchangeRejected(AppError):
    """The exchange definitely refused (insufficient funds, invalid order, bad symbol, bad
    credentials). Final: retrying cannot help."""

    status = 422
    code = "exchange_rejected"

    def __init__(self, message: str, *, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"reason": reason, **(details or {})}, code=None)
        self.reason = reason


class ExchangeOrderNotFound(AppError):
    """The exchange does not know this order (or does not know it yet: replicas lag)."""

    status = 404
    code = "exchange_order_not_found"


class ConfigurationError(AppError):
    """The deployment is misconfigured: an operator's problem, never the client's (who sees only
    `internal_error`-style text)."""

    status = 500
    code = "configuration_error"
    message_is_public = False


class TaskRetry(AppError):
    """A worker did nothing and trying again later may succeed: leave the message on the queue."""

    status = 503
    code = "retry_later"


class EventPublishError(DependencyUnavailable):
    """EventBridge did not accept every event after retries (the outbox keeps them)."""
