"""Bot use cases: create, read, list, change, delete, and move through the lifecycle.

Every change is one conditional, version-checked transaction that also records its domain event.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.auth.principal import Principal
from shared.billing import entitlements
from shared.billing.entitlements import BotCountChange
from shared.bots import lifecycle
from shared.bots.activity import ActivityList, list_activity
from shared.bots.lifecycle import BotAction, BotStatus
from shared.bots.models import BotRecord, get_bot, list_active_bots, list_bots
from shared.bots.performance import PerformanceOut, bot_performance
from shared.bots.responses import BotCreated, BotList, BotOut, SignalSecretOut
from shared.clock import isoformat, utc_now
from shared.errors import Conflict, NotFound
from shared.events.data.bots import BotData
from shared.events.envelope import DomainEvent, new_event
from shared.events.transactions import commit_with_events
from shared.exchange_accounts.models import ensure_account, exchange_of_account
from shared.idempotency import run_once
from shared.ids import new_id
from shared.market_data.markets import bot_market, last_close_ms
from shared.observability import logger
from shared.pagination import decode_cursor, encode_cursor
from shared.persistence import condition_failed, transaction_conflicted
from shared.signals import secrets as signal_secrets
from shared.tenants.models import get_tenant, stage_kill_switch_released

if TYPE_CHECKING:  # the request shapes build every strategy's models: only the bots API imports them
    from shared.bots.schemas import BotCreate, BotUpdate

SOURCE = "cryptoorchestrator.bots"
COMMIT_ATTEMPTS = 3  # a retry after the counter's lazy initialization or a transaction conflict
CURSOR_KIND = "bots"
TRADING_FIELDS = frozenset({"exchange_account_id", "symbol", "strategy"})


def _not_found(bot_id: str) -> NotFound:
    # The same answer whether the bot does not exist or belongs to another tenant.
    return NotFound("no such bot", details={"id": bot_id})


def to_out(record: BotRecord) -> BotOut:
    return BotOut(
        id=record.bot_id,
        name=record.name,
        exchange_account_id=record.exchange_account_id,
        symbol=record.symbol,
        strategy=json.loads(record.strategy_json),
        risk=json.loads(record.risk_json),
        status=BotStatus(record.status),
        version=int(record.version or 0),
        created_at=isoformat(record.created_at),
        updated_at=isoformat(record.updated_at),
    )


def _event(
    event_type: str,
    record: BotRecord,
    *,
    previous: str | None = None,
    changed: list[str] | None = None,
    reason: str | None = None,
) -> DomainEvent:
    data = BotData(
        bot_id=record.bot_id,
        name=record.name,
        symbol=record.symbol,
        exchange_account_id=record.exchange_account_id,
        strategy_type=record.strategy_type,
        status=BotStatus(record.status).value,
        previous_status=previous,
        changed_fields=changed,
        reason=reason,
    )
    return new_event(event_type, tenant_id=record.tenant_id, source=SOURCE, data=data)


def _ensure_exchange_account(tenant_id: str, account_id: str) -> None:
    """The bot may only trade through an account its own tenant owns (else 404)."""
    ensure_account(tenant_id, account_id)


def _kill_switch_engaged() -> Conflict:
    return Conflict("the kill switch is engaged: no bot can start until it is released", code="kill_switch_engaged")


def _commit(
    record: BotRecord,
    event: DomainEvent,
    *,
    delete: bool = False,
    new: bool = False,
    signal_secret: str | None = None,
    unless_kill_switch: bool = False,
    counts: BotCountChange | None = None,
) -> None:
    """`unless_kill_switch`: the change commits only while the tenant's kill switch is released,
    checked in the same transaction, so a start racing the switch cannot slip through.
    `counts`: the tenant's bot counters move in the same transaction, refused past the plan's
    count (402); a counter that does not exist yet is initialized and the change retried."""

    def stage(tx: TransactWrite) -> None:
        if unless_kill_switch:
            stage_kill_switch_released(tx, record.tenant_id)
        if delete:
            tx.delete(record)
            signal_secrets.stage_delete(tx, record.bot_id)  # if it ever had one
        elif new:
            tx.save(record, condition=BotRecord.bot_id.does_not_exist())
        else:
            tx.save(record)  # version-checked: fails if someone else changed or deleted it
        if signal_secret is not None:
            signal_secrets.stage_secret(tx, record.tenant_id, record.bot_id, signal_secret)
        if counts:
            entitlements.stage_bot_counts(tx, record.tenant_id, counts)

    for attempt in range(COMMIT_ATTEMPTS):
        try:
            commit_with_events(stage, [event])
            return
        except TransactWriteError as exc:
            last_try = attempt == COMMIT_ATTEMPTS - 1
            if not last_try and transaction_conflicted(exc):
                continue  # another transaction held the tenant's counter: nothing was written, try again
            if not condition_failed(exc):
                raise
            if counts and entitlements.settle_failed_bot_change(record.tenant_id, counts) and not last_try:
                continue  # the counter was missing and is now initialized
            _refuse(record, exc, unless_kill_switch=unless_kill_switch)


def _refuse(record: BotRecord, exc: TransactWriteError, *, unless_kill_switch: bool) -> NoReturn:
    """Why a bot transaction failed a condition (the plan's count was ruled out before)."""
    tenant = get_tenant(record.tenant_id) if unless_kill_switch else None
    if tenant is not None and tenant.kill_switch:
        raise _kill_switch_engaged() from exc
    raise Conflict(
        "the bot was changed by another request; reload and retry",
        code="concurrent_modification",
        details={"id": record.bot_id},
    ) from exc


def create_bot(caller: Principal, request: BotCreate, idempotency_key: str) -> BotCreated:
    """Create a stopped bot, at most once per Idempotency-Key. A signal bot's secret is in this
    answer only: it is kept out of the stored idempotent result, which holds just the bot."""
    created_secret: list[str] = []

    def create() -> dict[str, Any]:
        _ensure_exchange_account(caller.tenant_id, request.exchange_account_id)
        plan = entitlements.tenant_plan(caller.tenant_id)
        now = utc_now()
        record = BotRecord(
            tenant_id=caller.tenant_id,
            bot_id=new_id("bot"),
            name=request.name,
            exchange_account_id=request.exchange_account_id,
            symbol=request.symbol,
            strategy_type=request.strategy.type,
            strategy_json=request.strategy.model_dump_json(),
            risk_json=request.risk.model_dump_json(),
            status=BotStatus.STOPPED.value,
            created_at=now,
            updated_at=now,
        )
        secret = signal_secrets.new_secret() if request.strategy.type == "signal" else None
        _commit(
            record,
            _event("bot.created", record),
            new=True,
            signal_secret=secret,
            counts=BotCountChange(plan, total=1),
        )
        created_secret.extend([secret] if secret else [])
        return to_out(record).model_dump(mode="json")

    result = run_once(
        "bots.create",
        tenant_id=caller.tenant_id,
        idempotency_key=idempotency_key,
        payload=request.model_dump(mode="json"),
        action=create,
    )
    return BotCreated.model_validate({**result, "signal_secret": created_secret[0] if created_secret else None})


def rotate_signal_secret(caller: Principal, bot_id: str) -> SignalSecretOut:
    """A new secret for a signal bot (also the way to give one to a bot changed to `signal`);
    the old one stops working with this write."""
    record = get_bot(caller.tenant_id, bot_id)
    if record is None:
        raise _not_found(bot_id)
    if record.strategy_type != "signal":
        raise Conflict("only signal bots have a signal secret", code="not_a_signal_bot", details={"id": bot_id})
    secret = signal_secrets.new_secret()
    record.updated_at = utc_now()
    _commit(record, _event("bot.signal_secret_rotated", record), signal_secret=secret)
    return SignalSecretOut(bot_id=bot_id, signal_secret=secret, rotated_at=isoformat(record.updated_at))


def read_bot(caller: Principal, bot_id: str) -> BotOut:
    record = get_bot(caller.tenant_id, bot_id)
    if record is None:
        raise _not_found(bot_id)
    return to_out(record)


def list_tenant_bots(caller: Principal, *, limit: int, cursor: str | None) -> BotList:
    after = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    rows, more = list_bots(caller.tenant_id, limit=limit, after=after)
    next_cursor = encode_cursor(CURSOR_KIND, rows[-1].bot_id) if more and rows else None
    return BotList(items=[to_out(r) for r in rows], next_cursor=next_cursor)


def update_bot(caller: Principal, bot_id: str, request: BotUpdate) -> BotOut:
    record = get_bot(caller.tenant_id, bot_id)
    if record is None:
        raise _not_found(bot_id)
    proposed: dict[str, str] = {}
    if request.name is not None:
        proposed["name"] = request.name
    if request.exchange_account_id is not None:
        proposed["exchange_account_id"] = request.exchange_account_id
    if request.symbol is not None:
        proposed["symbol"] = request.symbol
    if request.strategy is not None:
        proposed["strategy_json"] = request.strategy.model_dump_json()
        proposed["strategy_type"] = request.strategy.type
    if request.risk is not None:
        proposed["risk_json"] = request.risk.model_dump_json()
    changed = sorted(
        {
            name.removesuffix("_json").removesuffix("_type")
            for name, value in proposed.items()
            if getattr(record, name) != value
        }
    )
    if not changed:
        return to_out(record)
    if TRADING_FIELDS & set(changed) and not lifecycle.may_change_trading_config(BotStatus(record.status)):
        raise Conflict(
            "pause or stop the bot before changing its strategy, symbol or account",
            code="bot_running",
            details={"id": bot_id, "fields": sorted(TRADING_FIELDS & set(changed))},
        )
    if "exchange_account_id" in changed:
        _ensure_exchange_account(caller.tenant_id, proposed["exchange_account_id"])
    for name, value in proposed.items():
        setattr(record, name, value)
    record.updated_at = utc_now()
    _commit(record, _event("bot.updated", record, changed=changed))
    return to_out(record)


def delete_bot(caller: Principal, bot_id: str) -> None:
    record = get_bot(caller.tenant_id, bot_id)
    if record is None:
        raise _not_found(bot_id)
    if not lifecycle.may_delete(BotStatus(record.status)):
        raise Conflict(
            "stop the bot before deleting it", code="bot_not_stopped", details={"id": bot_id, "status": record.status}
        )
    _commit(record, _event("bot.deleted", record), delete=True, counts=BotCountChange(None, total=-1))


def _update_schedule(record: BotRecord) -> None:
    """A running bot ticks from its market's next bar close on (signal bots wait for signals
    instead); any other status takes it off the scheduler's due index."""
    if record.status == BotStatus.RUNNING.value and record.strategy_type != "signal":
        exchange_id = exchange_of_account(record.tenant_id, record.exchange_account_id)
        market = bot_market(exchange_id, record.symbol, record.strategy_json)
        now_ms = int(record.updated_at.timestamp() * 1000)
        record.schedule(str(market), last_close_ms(now_ms, market.timeframe))  # due at once: decide now
    else:
        record.unschedule()


def schedule_unscheduled_running_bots() -> int:
    """One-off migration for bots that were running before the scheduler existed: puts each one
    on the due index (version-checked; a bot changed meanwhile is left to its own change).
    The only Scan of the Bots table, run by an operator (`python -m tools.schedule_running_bots`),
    never by a function."""
    scheduled = 0
    for record in BotRecord.scan(BotRecord.status == BotStatus.RUNNING.value):
        if record.due_shard is not None or record.strategy_type == "signal":
            continue
        record.updated_at = utc_now()
        _update_schedule(record)
        try:
            record.save()  # version-checked
        except PutError:  # changed or deleted meanwhile: its own change scheduled it (or not)
            logger.info("bot changed meanwhile; not scheduled by the migration", extra={"bot_id": record.bot_id})
            continue
        scheduled += 1
    return scheduled


def change_status(caller: Principal, bot_id: str, action: BotAction) -> BotOut:
    record = get_bot(caller.tenant_id, bot_id)
    if record is None:
        raise _not_found(bot_id)
    return to_out(_transition(record, action))


def _transition(record: BotRecord, action: BotAction, *, reason: str | None = None) -> BotRecord:
    """Move a bot through the lifecycle: a user's start/pause/stop, or a stop the plan imposes.
    A start needs the kill switch released, and fits the plan (live account, running count)."""
    previous = BotStatus(record.status)
    starting = action is BotAction.START
    plan = None
    if starting:
        tenant = get_tenant(record.tenant_id)
        if tenant is not None and tenant.kill_switch:
            raise _kill_switch_engaged()
        plan = entitlements.plan_of(tenant)
        entitlements.require_live_trading(plan, record.exchange_account_id)
    status = lifecycle.next_status(previous, action)
    running = int(status is BotStatus.RUNNING) - int(previous is BotStatus.RUNNING)
    record.status = status.value
    record.updated_at = utc_now()
    _update_schedule(record)
    _commit(
        record,
        _event(lifecycle.EVENT_FOR_ACTION[action], record, previous=previous.value, reason=reason),
        unless_kill_switch=starting,
        counts=BotCountChange(plan, running=running),
    )
    return record


def running_bots(tenant_id: str) -> list[BotRecord]:
    return [bot for bot in list_active_bots(tenant_id) if bot.status == BotStatus.RUNNING.value]


def stop_for_plan(tenant_id: str, bot_id: str, reason: str) -> bool:
    """Stop a running bot because the plan no longer allows it (the same transition, event and
    counters as a user's stop, with `reason` in the event). False when it is no longer running:
    someone stopped or paused it first."""
    for _attempt in range(COMMIT_ATTEMPTS):
        record = get_bot(tenant_id, bot_id)
        if record is None or record.status != BotStatus.RUNNING.value:
            return False
        try:
            _transition(record, BotAction.STOP, reason=reason)
        except Conflict:
            continue  # changed meanwhile: read it again
        return True
    return False


def bot_activity(caller: Principal, bot_id: str, *, limit: int, cursor: str | None) -> ActivityList:
    if get_bot(caller.tenant_id, bot_id) is None:
        raise _not_found(bot_id)
    return list_activity(caller.tenant_id, bot_id, limit=limit, cursor=cursor)


def performance_of(caller: Principal, bot_id: str) -> PerformanceOut:
    record = get_bot(caller.tenant_id, bot_id)
    if record is None:
        raise _not_found(bot_id)
    return bot_performance(record)
