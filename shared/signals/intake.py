"""Receiving a signal: authenticate by the bot's secret, rate-limit, parse, validate, deduplicate,
record and queue, then answer (202, or 200 for a duplicate). No exchange call happens here, so the
answer comes well inside TradingView's 3-second cut-off whatever the exchange is doing; the signal
worker executes it (shared.signals.execution).

Every refusal of an authenticated signal is recorded (Signals table, `signal.rejected` event) with
its reason. Refusals before authentication (wrong secret, unknown bot, an unreadable body without a
secret header) are only logged and counted: recording them would let anyone write into a tenant's
history.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.bots.activity import record_activity
from shared.bots.lifecycle import BotStatus
from shared.bots.models import BotRecord, get_bot
from shared.clock import utc_now
from shared.config import get_settings
from shared.errors import (
    AppError,
    BadRequest,
    Conflict,
    DependencyUnavailable,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from shared.events.data.signals import SignalData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.ids import new_id
from shared.observability import MetricUnit, logger, metrics
from shared.persistence import condition_failed, connection
from shared.signals import models, tasks
from shared.signals.models import SignalMarker, SignalRecord
from shared.signals.parsing import (
    ParsedSignal,
    SignalBody,
    SignalFormatError,
    parse_signal,
    read_body,
    symbol_matches,
)
from shared.signals.secrets import tenant_for
from shared.strategies.signal_params import SignalParams

SOURCE = "cryptoorchestrator.signals"
# enter_long buys, exit_long sells or closes, and so on: a bot's `allowed_actions` names the
# categories it accepts; an action passes if any of its categories is allowed.
ACTION_CATEGORIES: dict[str, frozenset[str]] = {
    "enter_long": frozenset({"buy"}),
    "exit_long": frozenset({"sell", "close"}),
    "enter_short": frozenset({"sell"}),
    "exit_short": frozenset({"buy", "close"}),
}
_FORMAT_STATUS = {"malformed_signal": 400}
BOT_ID = re.compile(r"^bot_[0-9a-z]{26}$")


@dataclass(frozen=True)
class SignalReceipt:
    signal_id: str
    status: Literal["accepted", "duplicate"]

    @property
    def http_status(self) -> int:
        return 202 if self.status == "accepted" else 200


def invalid_secret() -> Unauthorized:
    # One answer for a wrong secret, a missing one and an unknown bot.
    return Unauthorized("invalid signal secret or unknown bot", code="invalid_signal_secret")


def _event(
    kind: str, bot: BotRecord, signal_id: str, parsed: ParsedSignal | None, *, status: str, reason: str | None = None
) -> Any:
    data = SignalData(
        signal_id=signal_id,
        bot_id=bot.bot_id,
        action=None if parsed is None else parsed.action,
        symbol=bot.symbol,
        status=status,
        reason=reason,
    )
    return new_event(kind, tenant_id=bot.tenant_id, source=SOURCE, data=data)


def _record(
    bot: BotRecord,
    signal_id: str,
    now: datetime,
    parsed: ParsedSignal | None,
    *,
    status: str,
    http_status: int,
    reason: str | None = None,
    message: str | None = None,
    duplicate_of: str | None = None,
) -> SignalRecord:
    return SignalRecord(
        tenant_id=bot.tenant_id,
        signal_key=models.signal_key(bot.bot_id, signal_id),
        signal_id=signal_id,
        bot_id=bot.bot_id,
        received_at=now,
        updated_at=now,
        status=status,
        reason=reason,
        message=message,
        http_status=http_status,
        duplicate_of=duplicate_of,
        fields_json=None if parsed is None else json.dumps(parsed.public_fields(), sort_keys=True),
        expires_at=models.retention_expiry(now),
    )


def _refuse(bot: BotRecord, signal_id: str, now: datetime, parsed: ParsedSignal | None, error: AppError) -> NoReturn:
    """Record the refusal and its event, then raise it (with the signal id, for support)."""
    record = _record(
        bot,
        signal_id,
        now,
        parsed,
        status="refused",
        http_status=error.status,
        reason=error.error_code,
        message=error.message,
    )
    try:
        commit_with_events(
            lambda tx: tx.save(record),
            [_event("signal.rejected", bot, signal_id, parsed, status="refused", reason=error.error_code)],
        )
    except Exception:  # the refusal stands even if it could not be recorded
        logger.warning("could not record a refused signal", extra={"signal_id": signal_id})
    record_activity(
        bot.tenant_id,
        bot.bot_id,
        "signal",
        f"signal refused: {error.error_code}",
        data={"signal_id": signal_id, "reason": error.error_code, "message": error.message},
        entry_id=signal_id,
    )
    metrics.add_metric(name="SignalsRefused", unit=MetricUnit.Count, value=1)
    logger.info("signal refused", extra={"signal_id": signal_id, "bot_id": bot.bot_id, "reason": error.error_code})
    if isinstance(error.details, dict):
        error.details = {**error.details, "signal_id": signal_id}
    raise error


def _check_rate(bot: BotRecord, now: datetime) -> RateLimited | None:
    settings = get_settings()
    window = settings.signal_rate_window_seconds
    start = int(now.timestamp()) // window * window
    count = models.count_in_window(bot.tenant_id, bot.bot_id, start, expires_at=start + 2 * window)
    if count <= settings.signal_rate_limit:
        return None
    return RateLimited(
        f"more than {settings.signal_rate_limit} signals in {window} s for this bot",
        retry_after_seconds=max(1, start + window - int(now.timestamp())),
        code="signal_rate_limited",
    )


def _params(bot: BotRecord) -> SignalParams | None:
    strategy = json.loads(bot.strategy_json)
    if bot.strategy_type != "signal":
        return None
    return SignalParams.model_validate(strategy.get("params", {}))


def _validate(bot: BotRecord, parsed: ParsedSignal, now: datetime) -> AppError | None:
    """Why this well-formed signal cannot be accepted for this bot, or None."""
    params = _params(bot)
    if params is None:
        return Conflict("this bot does not trade on signals", code="not_a_signal_bot")
    if bot.status != BotStatus.RUNNING.value:
        return Conflict(f"the bot is {bot.status}, not running", code="bot_not_running", details={"status": bot.status})
    if parsed.symbol is not None and not symbol_matches(parsed.symbol, bot.symbol):
        return ValidationFailed(
            f"the signal is for {parsed.symbol}; this bot trades {bot.symbol}",
            code="symbol_mismatch",
            details={"symbol": parsed.symbol, "bot_symbol": bot.symbol},
        )
    derivatives = ":" in bot.symbol
    wants_short = parsed.action in ("enter_short", "exit_short") or (
        parsed.target is not None and parsed.target.position == "short"
    )
    if wants_short and not derivatives:
        return ValidationFailed(
            f"{bot.symbol} is a spot market: short positions are not possible",
            code="short_not_supported",
            details={"action": parsed.action},
        )
    if not ACTION_CATEGORIES[parsed.action] & set(params.allowed_actions):
        return ValidationFailed(
            f"this bot does not accept {parsed.action} signals",
            code="action_not_allowed",
            details={"allowed_actions": list(params.allowed_actions)},
        )
    if parsed.timestamp is not None:
        age = (now - parsed.timestamp).total_seconds()
        if -age > get_settings().signal_max_clock_skew_seconds:
            return ValidationFailed("the signal's timestamp is in the future", code="timestamp_in_future")
        limits = [params.max_signal_age_seconds] + ([parsed.max_lag_seconds] if parsed.max_lag_seconds else [])
        if age > min(limits):
            return ValidationFailed(
                f"the signal is {int(age)} s old; at most {min(limits)} s is accepted",
                code="stale_signal",
                details={"age_seconds": int(age), "limit_seconds": min(limits)},
            )
    return None


def _dedup_markers(
    bot: BotRecord, parsed: ParsedSignal, body: bytes, signal_id: str, now: datetime
) -> list[SignalMarker]:
    """Same bot + timestamp + action (as long as such a signal could still be accepted), and the
    same body within the dedup window."""
    settings = get_settings()
    markers = [
        SignalMarker(
            tenant_id=bot.tenant_id,
            signal_id=signal_id,
            signal_key=f"dedup#{bot.bot_id}#body#{hashlib.sha256(body).hexdigest()}",
            expires_at=models.expiry(now, settings.signal_dedup_window_seconds),
        )
    ]
    if parsed.timestamp is not None:
        params = _params(bot)
        lifetime = max(
            settings.signal_dedup_window_seconds,
            (params.max_signal_age_seconds if params else 0) + settings.signal_max_clock_skew_seconds,
        )
        digest = hashlib.sha256(f"{parsed.timestamp.isoformat()}|{parsed.action}".encode()).hexdigest()
        markers.append(
            SignalMarker(
                tenant_id=bot.tenant_id,
                signal_id=signal_id,
                signal_key=f"dedup#{bot.bot_id}#event#{digest}",
                expires_at=models.expiry(now, lifetime),
            )
        )
    return markers


def _first_signal(markers: list[SignalMarker], now: datetime) -> str | None:
    for marker in markers:
        found = models.get_marker(marker.tenant_id, marker.signal_key)
        if found is not None and found.signal_id and int(found.expires_at) >= int(now.timestamp()):
            return found.signal_id
    return None


def _accept(bot: BotRecord, parsed: ParsedSignal, body: bytes, signal_id: str, now: datetime) -> SignalReceipt:
    markers = _dedup_markers(bot, parsed, body, signal_id, now)
    record = _record(bot, signal_id, now, parsed, status="accepted", http_status=202)
    epoch = int(now.timestamp())

    def stage(tx: TransactWrite) -> None:
        tx.save(record, condition=SignalRecord.signal_key.does_not_exist())
        for marker in markers:
            tx.save(marker, condition=SignalMarker.signal_key.does_not_exist() | (SignalMarker.expires_at < epoch))

    try:
        # No event here: `signal.executed` / `signal.failed` follow within seconds, and skipping the
        # outbox row and its PutEvents keeps two round trips off TradingView's 3-second clock.
        with TransactWrite(connection=connection()) as tx:
            stage(tx)
    except TransactWriteError as exc:
        first = _first_signal(markers, now) if condition_failed(exc) else None
        if first is None:
            raise
        duplicate = _record(bot, signal_id, now, parsed, status="duplicate", http_status=200, duplicate_of=first)
        duplicate.save()
        logger.info("duplicate signal", extra={"signal_id": signal_id, "duplicate_of": first, "bot_id": bot.bot_id})
        return SignalReceipt(first, "duplicate")
    try:
        tasks.enqueue(tasks.SignalTask(tenant_id=bot.tenant_id, bot_id=bot.bot_id, signal_id=signal_id))
    except Exception:
        logger.warning("could not queue a signal", extra={"signal_id": signal_id})
        record.status, record.reason, record.updated_at = "failed", "queue_unavailable", utc_now()
        record.save()
        for marker in markers:  # let the sender's retry through
            marker.delete()
        raise DependencyUnavailable(
            "the signal could not be queued; send it again",
            code="signal_queue_unavailable",
            details={"signal_id": signal_id},
        ) from None
    metrics.add_metric(name="SignalsAccepted", unit=MetricUnit.Count, value=1)
    return SignalReceipt(signal_id, "accepted")


def receive_signal(
    bot_id: str, body: bytes, content_type: str, header_secret: str | None, now: datetime | None = None
) -> SignalReceipt:
    """Authenticate, validate, deduplicate, record and queue one signal; raise an AppError to refuse it."""
    now = now or utc_now()
    limit = get_settings().signal_max_body_bytes
    too_large = len(body) > limit
    presented = header_secret
    read: SignalBody | None = None
    if presented is None and not too_large:
        try:
            read = read_body(body, content_type)
        except SignalFormatError as exc:  # the same answer for every bot: it reveals nothing
            raise BadRequest(exc.message, code=exc.code) from None
        presented = read.secret
    tenant_id = tenant_for(bot_id, presented) if BOT_ID.fullmatch(bot_id) else None
    bot = None if tenant_id is None else get_bot(tenant_id, bot_id)
    if bot is None:
        if too_large:  # without a header secret there is nothing to authenticate with
            raise PayloadTooLarge(f"the signal body exceeds {limit} bytes", details={"limit_bytes": limit})
        metrics.add_metric(name="SignalsUnauthenticated", unit=MetricUnit.Count, value=1)
        raise invalid_secret()
    signal_id = new_id("sig")
    if too_large:
        _refuse(
            bot,
            signal_id,
            now,
            None,
            PayloadTooLarge(f"the signal body exceeds {limit} bytes", details={"limit_bytes": limit}),
        )
    limited = _check_rate(bot, now)
    if limited is not None:
        _refuse(bot, signal_id, now, None, limited)
    try:
        parsed = parse_signal(read or body, content_type)
    except SignalFormatError as exc:
        error_type = BadRequest if _FORMAT_STATUS.get(exc.code) == 400 else ValidationFailed
        _refuse(bot, signal_id, now, None, error_type(exc.message, code=exc.code))
    problem = _validate(bot, parsed, now)
    if problem is not None:
        _refuse(bot, signal_id, now, parsed, problem)
    return _accept(bot, parsed, body, signal_id, now)
