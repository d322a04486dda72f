"""Plan limits where they bite: every check reads the limit from `shared.billing.plans` and the
tenant's plan from its row, and refuses with `PlanLimitReached` (402 `plan_limit`) before
anything is written.

- Bots: a conditional update of the `bots` counter inside the very transaction that creates,
  deletes, starts, pauses or stops the bot (`stage_bot_counts`), so two creates at the limit
  cannot both win and the counter cannot drift. Creating counts all bots; starting counts
  running bots, so a downgraded tenant keeps its bots but runs at most the plan's count.
- Live trading: any account but the built-in paper account needs a plan with live accounts.
- Backtests: counted per calendar month (UTC) when accepted; a sweep counts its combinations.
- Webhook subscriptions: checked against the tenant's count before the global cap.
- Seats: users plus pending invitations, a counter moved in the invitation's own transaction.
- Downgrades: `enforce_plan_limits` stops the excess running bots, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.billing.models import BOTS, SEATS, PlanCounterRecord, backtests_counter, get_counter
from shared.billing.plans import LimitName, Plan, plan_lifting, plan_named
from shared.clock import utc_now
from shared.errors import PlanLimitReached
from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
from shared.observability import logger
from shared.tenants.models import TenantRecord, get_tenant

LIMIT_NOUNS: dict[LimitName, str] = {
    "live_exchange_accounts": "live exchange accounts",
    "bots": "bots",
    "backtests_per_month": "backtests a month",
    "sweep_combinations": "combinations per sweep",
    "webhook_subscriptions": "webhook subscriptions",
    "seats": "users",
}


def plan_of(tenant: TenantRecord | None) -> Plan:
    """The tenant's plan; a tenant without a row (or an unknown plan name) is on free."""
    return plan_named(tenant.plan if tenant is not None and tenant.plan else "free")


def tenant_plan(tenant_id: str) -> Plan:
    return plan_of(get_tenant(tenant_id))


def refusal(plan: Plan, limit: LimitName, wanted: int, *, counts: str | None = None) -> PlanLimitReached:
    """The 402 for `wanted` (a count, or 1 for a yes/no feature) beyond `plan`'s `limit`;
    `counts` says what was counted when the limit counts more than one thing (bots: running)."""
    allowed: int | bool | None = getattr(plan.limits, limit)
    lifting = plan_lifting(limit, wanted)
    way_out = f"; the {lifting.name} plan allows it" if lifting is not None else ""
    if isinstance(allowed, bool):
        message = f"the {plan.name} plan has no {LIMIT_NOUNS[limit]}{way_out}"
    else:
        message = f"the {plan.name} plan allows {allowed} {LIMIT_NOUNS[limit]}{way_out}"
    error = PlanLimitReached(
        message, limit=limit, plan=plan.name, allowed=allowed, upgrade_to=lifting.name if lifting else None
    )
    if counts is not None and isinstance(error.details, dict):
        error.details["counts"] = counts
    return error


def require(plan: Plan, limit: LimitName, wanted: int) -> None:
    if not plan.limits.allows(limit, wanted):
        raise refusal(plan, limit, wanted)


def is_live(exchange_account_id: str) -> bool:
    """Every account a tenant registers trades on a real exchange; only the built-in one is paper."""
    return exchange_account_id != PAPER_ACCOUNT_ID


def require_live_trading(plan: Plan, exchange_account_id: str) -> None:
    """Adding, or starting a bot on, a non-paper account needs a plan with live accounts."""
    if is_live(exchange_account_id):
        require(plan, "live_exchange_accounts", 1)


# ---------------------------------------------------------------- bots


@dataclass(frozen=True)
class BotCountChange:
    """What a bot change does to the tenant's `bots` counter; increases must fit `plan` (None
    only for changes that increase nothing)."""

    plan: Plan | None
    total: int = 0  # +1 created, -1 deleted
    running: int = 0  # +1 into running, -1 out of it

    def __bool__(self) -> bool:
        return bool(self.total or self.running)


def stage_bot_counts(tx: TransactWrite, tenant_id: str, change: BotCountChange) -> None:
    """The counter update, inside the caller's transaction: it fails the transaction when an
    increase would pass the plan's bot count, or when the counter does not exist yet (see
    `settle_failed_bot_change`)."""
    actions: list[Action] = []
    condition: Condition = PlanCounterRecord.counter.exists()
    limit = change.plan.limits.bots if change.plan is not None else None
    if change.total:
        actions.append(PlanCounterRecord.total.add(change.total))
        if change.total > 0 and limit is not None:
            condition &= PlanCounterRecord.total <= limit - change.total
    if change.running:
        actions.append(PlanCounterRecord.running.add(change.running))
        if change.running > 0 and limit is not None:
            condition &= PlanCounterRecord.running <= limit - change.running
    tx.update(PlanCounterRecord(tenant_id, BOTS), actions=actions, condition=condition)


def initialize_bot_counter(tenant_id: str) -> None:
    """Counts a tenant's bots once, the first time a bot change needs the counter (tenants from
    before entitlements, or new ones): lazily, so no migration has to run before a deploy. Every
    bot change conditions on the counter existing, so none can commit between this count and the
    conditional put; of two initializations racing, the first put wins and both counted the same."""
    from shared.bots.lifecycle import BotStatus
    from shared.bots.models import BotRecord

    total = running = 0
    for row in BotRecord.query(tenant_id, consistent_read=True, attributes_to_get=["status"]):
        total += 1
        running += row.status == BotStatus.RUNNING.value
    try:
        PlanCounterRecord(tenant_id, BOTS, total=total, running=running).save(
            condition=PlanCounterRecord.counter.does_not_exist()
        )
    except PutError as exc:  # another request initialized it first, with the same count
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    logger.info("bot counter initialized", extra={"tenant_id": tenant_id, "bots": total, "running": running})


def settle_failed_bot_change(tenant_id: str, change: BotCountChange) -> bool:
    """After a bot transaction failed a condition: True when the counter was missing (now
    initialized: retry); raises the 402 when the plan's count was the reason; False when it
    was something else (the caller reports its own conflict)."""
    counter = get_counter(tenant_id, BOTS)
    if counter is None:
        initialize_bot_counter(tenant_id)
        return True
    plan = change.plan
    limit = plan.limits.bots if plan is not None else None
    if plan is None or limit is None:
        return False
    if change.total > 0 and int(counter.total) + change.total > limit:
        raise refusal(plan, "bots", int(counter.total) + change.total, counts="bots")
    if change.running > 0 and int(counter.running or 0) + change.running > limit:
        raise refusal(plan, "bots", int(counter.running or 0) + change.running, counts="running bots")
    return False


def bot_counts(tenant_id: str) -> tuple[int, int]:
    """(bots, running bots) as counted; (0, 0) before the first bot change counted them."""
    counter = get_counter(tenant_id, BOTS)
    return (int(counter.total), int(counter.running or 0)) if counter is not None else (0, 0)


# ---------------------------------------------------------------- backtests


def require_sweep_size(plan: Plan, combinations: int) -> None:
    require(plan, "sweep_combinations", combinations)


def reserve_backtests(tenant_id: str, plan: Plan, count: int) -> str:
    """Count `count` backtests against this month's allowance, atomically (one conditional
    update); returns the counter's key for `refund_backtests`. Unlimited plans are counted too."""
    limit = plan.limits.backtests_per_month
    if limit is not None and count > limit:
        raise refusal(plan, "backtests_per_month", count)
    row = PlanCounterRecord(tenant_id, backtests_counter(utc_now()))
    condition = None
    if limit is not None:
        condition = PlanCounterRecord.total.does_not_exist() | (PlanCounterRecord.total <= limit - count)
    try:
        row.update(actions=[PlanCounterRecord.total.add(count)], condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        used = get_counter(tenant_id, row.counter)
        raise refusal(plan, "backtests_per_month", (int(used.total) if used else 0) + count) from None
    return row.counter


def refund_backtests(tenant_id: str, counter: str, count: int) -> None:
    """Give back backtests that were counted but never queued (our failure, not the tenant's)."""
    PlanCounterRecord(tenant_id, counter).update(actions=[PlanCounterRecord.total.add(-count)])


def backtests_used(tenant_id: str) -> int:
    """Backtests accepted this calendar month (UTC)."""
    counter = get_counter(tenant_id, backtests_counter(utc_now()))
    return int(counter.total) if counter is not None else 0


# ---------------------------------------------------------------- seats


def stage_seat_change(tx: TransactWrite, tenant_id: str, plan: Plan | None, change: int) -> None:
    """Take (+1, must fit `plan`'s seats) or give back (-1) a seat inside the caller's transaction;
    fails it when the counter does not exist yet (see `settle_failed_seat`)."""
    condition: Condition = PlanCounterRecord.counter.exists()
    limit = plan.limits.seats if plan is not None else None
    if change > 0 and limit is not None:
        condition &= PlanCounterRecord.total <= limit - change
    tx.update(PlanCounterRecord(tenant_id, SEATS), actions=[PlanCounterRecord.total.add(change)], condition=condition)


def settle_failed_seat(tenant_id: str, plan: Plan) -> bool:
    """After an invitation's transaction failed a condition: True when the seat counter was
    missing (now initialized: retry); raises the 402 when the plan's seats were the reason.
    A missing counter means the tenant never had an invitation, so its only user is the owner
    who signed up: the counter starts at 1."""
    counter = get_counter(tenant_id, SEATS)
    if counter is None:
        try:
            PlanCounterRecord(tenant_id, SEATS, total=1).save(condition=PlanCounterRecord.counter.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        return True
    if not plan.limits.allows("seats", int(counter.total) + 1):
        raise refusal(plan, "seats", int(counter.total) + 1, counts="users and pending invitations")
    return False


# ---------------------------------------------------------------- downgrades


def enforce_plan_limits(tenant_id: str, reason: str) -> list[str]:
    """After the plan changed (a downgrade, a payment failed past its grace period): stop the
    running bots the plan no longer allows, newest first (by creation), each through the same
    lifecycle as a user's stop, with a `bot.stopped` event carrying `reason`. Bots on live
    accounts go first when the plan has none; the bots' data stays. Returns the stopped ids."""
    from shared.bots.service import running_bots, stop_for_plan

    plan = tenant_plan(tenant_id)
    running = sorted(running_bots(tenant_id), key=lambda bot: (bot.created_at, bot.bot_id), reverse=True)
    live = [bot for bot in running if is_live(bot.exchange_account_id) and not plan.limits.live_exchange_accounts]
    allowed = [bot for bot in running if bot not in live]
    limit = plan.limits.bots
    excess = allowed[: max(0, len(allowed) - limit)] if limit is not None else []
    stopped = []
    for bot in sorted([*live, *excess], key=lambda bot: (bot.created_at, bot.bot_id), reverse=True):
        if stop_for_plan(tenant_id, bot.bot_id, reason):
            stopped.append(bot.bot_id)
    logger.info("plan limits enforced", extra={"tenant_id": tenant_id, "plan": plan.name, "stopped": len(stopped)})
    return stopped
