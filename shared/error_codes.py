"""Every error `code` the API can answer, with its HTTP status and what it means: the one list.

The web layer documents it in the OpenAPI (the `code` enum and, per status, the codes it can carry),
`python -m tools.openapi` renders it into the README, and a test scans the source so a code raised
anywhere but missing here fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    status: int
    summary: str
    other_statuses: tuple[int, ...] = ()

    @property
    def statuses(self) -> tuple[int, ...]:
        return (self.status, *self.other_statuses)


ERROR_CODES: dict[str, ErrorCode] = {
    # ---- the request itself
    "bad_request": ErrorCode(400, "The request is not acceptable (generic)."),
    "invitation_invalid": ErrorCode(
        400, "The invitation token is unknown, expired or used, or cannot make this account (one answer for all)."
    ),
    "malformed_json": ErrorCode(
        400,
        "The body is not JSON we accept: invalid syntax or UTF-8, a byte order mark, duplicate keys, "
        "NaN/Infinity, nesting deeper than 32 or a number longer than 100 characters.",
    ),
    "idempotency_key_required": ErrorCode(400, "This operation needs an `Idempotency-Key` header."),
    "idempotency_key_invalid": ErrorCode(400, "`Idempotency-Key` must be 1 to 255 printable ASCII characters."),
    "invalid_cursor": ErrorCode(400, "The `cursor` was not issued for this list."),
    "payload_too_large": ErrorCode(413, "The body exceeds the size limit."),
    "unsupported_media_type": ErrorCode(415, "A JSON endpoint was sent a body whose Content-Type is not JSON."),
    "validation_error": ErrorCode(422, "The request failed validation; `details.fields` lists each problem."),
    "route_not_found": ErrorCode(404, "No such route."),
    "method_not_allowed": ErrorCode(405, "The route does not serve this method; `Allow` lists those it does."),
    "http_error": ErrorCode(400, "Any other HTTP-level refusal (FastAPI's own 400s)."),
    # ---- who is calling
    "unauthorized": ErrorCode(401, "Missing or invalid credentials (also: two different credentials sent)."),
    "invalid_credentials": ErrorCode(
        401, "Login: wrong email or password. Exchange accounts (422): the exchange refused the API key.", (422,)
    ),
    "forbidden": ErrorCode(403, "The credential lacks the scope this operation needs."),
    "login_locked": ErrorCode(429, "Too many failed logins from this client; retry after `Retry-After` seconds."),
    "rate_limited": ErrorCode(429, "Too many requests; retry after `Retry-After` seconds."),
    "email_taken": ErrorCode(409, "Signup with an email that already has an account."),
    # ---- resources and their state
    "not_found": ErrorCode(404, "No such resource (also for other tenants' resources)."),
    "exchange_account_not_found": ErrorCode(
        404, "No such exchange account, at its own routes or when a bot or order names it."
    ),
    "plan_limit": ErrorCode(
        402, "The tenant's plan does not allow this; `details` name the limit, the plan and the plan that lifts it."
    ),
    "conflict": ErrorCode(409, "Conflicts with the current state (generic)."),
    "concurrent_modification": ErrorCode(409, "Changed by another request meanwhile; reload and retry."),
    "illegal_transition": ErrorCode(409, "The bot cannot move from its current status to the one asked."),
    "bot_running": ErrorCode(409, "Pause or stop the bot before changing its strategy, symbol or account."),
    "bot_not_stopped": ErrorCode(409, "Stop the bot before deleting it."),
    "kill_switch_engaged": ErrorCode(409, "The kill switch is engaged: no bot starts and no order is placed."),
    "order_not_cancelable": ErrorCode(409, "The order is already in a terminal state."),
    "paper_account_permanent": ErrorCode(409, "The built-in paper account cannot be deleted."),
    "not_a_signal_bot": ErrorCode(409, "Only signal bots have a signal secret and accept signals."),
    "idempotency_key_reused": ErrorCode(422, "This `Idempotency-Key` was used with a different request."),
    "request_in_progress": ErrorCode(409, "The first request with this `Idempotency-Key` is still running."),
    # ---- exchanges and orders
    "unsupported_exchange": ErrorCode(422, "This exchange is not supported."),
    "password_required": ErrorCode(422, "This exchange needs the API key's passphrase (`password`)."),
    "unknown_exchange": ErrorCode(404, "No such exchange."),
    "unknown_market": ErrorCode(404, "No such market on this exchange."),
    "exchange_rejected": ErrorCode(422, "The exchange definitely refused; `details.reason` says why."),
    "exchange_order_not_found": ErrorCode(404, "The exchange does not know this order."),
    "exchange_unavailable": ErrorCode(503, "The exchange could not be reached; nothing was done, retry later."),
    "exchange_outcome_unknown": ErrorCode(502, "The exchange may or may not have acted; the reconciler finds out."),
    # ---- signals
    "invalid_signal_secret": ErrorCode(401, "Wrong signal secret or unknown bot."),
    "signal_rate_limited": ErrorCode(429, "Too many signals for this bot; retry after `Retry-After` seconds."),
    "bot_not_running": ErrorCode(409, "The bot is not running, so it takes no signals."),
    "symbol_mismatch": ErrorCode(422, "The signal names a symbol other than the bot's."),
    "short_not_supported": ErrorCode(422, "The signal asks for a short position on a spot market."),
    "action_not_allowed": ErrorCode(422, "The bot's settings do not allow this signal action."),
    "timestamp_in_future": ErrorCode(422, "The signal's timestamp is in the future."),
    "stale_signal": ErrorCode(422, "The signal is older than the bot accepts (`max_signal_age_seconds`)."),
    "signal_queue_unavailable": ErrorCode(503, "The signal could not be queued; the sender may retry."),
    # ---- backtests and market data
    "too_many_bars": ErrorCode(422, "The range holds more bars than one backtest may."),
    "empty_sweep": ErrorCode(422, "Every combination of the sweep's grid is invalid for the strategy."),
    "data_source_unavailable": ErrorCode(422, "This data source cannot be used (yet)."),
    "results_not_ready": ErrorCode(422, "The backtest has not succeeded, so it has no results."),
    "invalid_csv": ErrorCode(422, "The uploaded CSV is not OHLCV data we can read; `details` says where."),
    "queue_unavailable": ErrorCode(503, "The backtest queue refused the jobs; retry with a new Idempotency-Key."),
    # ---- webhooks
    "webhook_url_refused": ErrorCode(422, "The webhook URL points somewhere we do not deliver (private address)."),
    "too_many_subscriptions": ErrorCode(409, "The tenant has as many webhook subscriptions as allowed."),
    "subscription_disabled": ErrorCode(409, "The webhook subscription is disabled; enable it first."),
    "event_not_subscribed": ErrorCode(422, "The event's type is not among the subscription's `event_types`."),
    "invalid_event_types": ErrorCode(422, "An `event_types` filter names no known type or uses a bad wildcard."),
    "invalid_time_range": ErrorCode(422, "The time range is inverted or malformed."),
    "invalid_endpoint": ErrorCode(
        422, "The event stream's endpoint does not fit its protocol (https URL, SQS ARN, email)."
    ),
    "too_many_streams": ErrorCode(409, "The tenant has as many event streams as allowed."),
    "endpoint_already_subscribed": ErrorCode(409, "That endpoint already backs an event stream."),
    # ---- billing-stripe (issue 13)
    "stripe_signature_invalid": ErrorCode(
        400, "Stripe webhook: the `Stripe-Signature` header is missing, wrong, too old or in the future."
    ),
    "origin_not_allowed": ErrorCode(422, "Checkout: a success or cancel URL is not on an allowed origin."),
    "already_subscribed": ErrorCode(409, "Checkout: the tenant already pays for a plan; change plans in the portal."),
    "no_billing_customer": ErrorCode(409, "Portal: the tenant never started a checkout, so Stripe knows no customer."),
    "payment_provider_unavailable": ErrorCode(503, "Stripe could not be reached or failed; nothing changed, retry."),
    # ---- signal bodies (API contract: codes the signals route answers, found by the schemathesis test)
    "malformed_signal": ErrorCode(400, "The signal body is neither JSON nor KEY=VALUE text, or a field is malformed."),
    "unknown_action": ErrorCode(422, "The signal's action is not one this bot understands."),
    "inconsistent_signal": ErrorCode(422, "The signal's fields contradict each other."),
    "unresolved_placeholder": ErrorCode(422, "A field still holds a TradingView `{{placeholder}}`."),
    # ---- our side
    "internal_error": ErrorCode(500, "An unexpected error; nothing about it is shown."),
    "configuration_error": ErrorCode(500, "The deployment is misconfigured; nothing about it is shown."),
    "dependency_unavailable": ErrorCode(503, "A service we depend on is unavailable; retry later."),
    "retry_later": ErrorCode(503, "Workers only: the task did nothing and goes back on its queue."),
}


README_MARKERS = ("<!-- error-codes:start (generated by `python -m tools.openapi`) -->", "<!-- error-codes:end -->")


def readme_with_table(readme: str) -> str:
    """`readme` with the text between README_MARKERS replaced by the current table."""
    start, end = README_MARKERS
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{markdown_table()}{end}{tail}"


def codes_for_status(status: int) -> list[str]:
    return sorted(code for code, entry in ERROR_CODES.items() if status in entry.statuses)


def markdown_table() -> str:
    """The README's table of error codes, by status then code (between README_MARKERS)."""
    rows = ["| Status | Code | Meaning |", "|---|---|---|"]
    for code, entry in sorted(ERROR_CODES.items(), key=lambda item: (item[1].status, item[0])):
        rows.append(f"| {', '.join(map(str, entry.statuses))} | `{code}` | {entry.summary} |")
    return "\n".join(rows) + "\n"
