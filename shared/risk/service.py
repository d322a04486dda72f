"""Tenant-wide risk settings and the kill switch."""

from __future__ import annotations

import json
from decimal import Decimal

from pynamodb.expressions.update import Action

from shared.auth.principal import Principal
from shared.bots import service as bots
from shared.bots.lifecycle import BotAction
from shared.bots.models import list_active_bots
from shared.config import get_settings
from shared.errors import Conflict, NotFound
from shared.events.data.risk import KillSwitchData, RiskSettingsData
from shared.events.envelope import new_event
from shared.events.transactions import commit_with_events
from shared.orders.intents import request_cancel
from shared.orders.models import list_open_orders
from shared.orders.states import TERMINAL
from shared.risk.schemas import KillSwitchOut, RiskSettings, RiskSettingsOut
from shared.tenants.models import TenantRecord, get_tenant, stage_tenant_update

SOURCE = "cryptoorchestrator.risk"


def _tenant(caller: Principal) -> TenantRecord:
    tenant = get_tenant(caller.tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    return tenant


def read_settings(caller: Principal) -> RiskSettingsOut:
    tenant = _tenant(caller)
    deviation = (
        Decimal(tenant.max_price_deviation_pct)
        if tenant.max_price_deviation_pct
        else get_settings().default_max_price_deviation_pct
    )
    return RiskSettingsOut(
        symbol_allowlist=json.loads(tenant.symbol_allowlist) if tenant.symbol_allowlist else None,
        max_price_deviation_pct=deviation,
        kill_switch=bool(tenant.kill_switch),
    )


def update_settings(caller: Principal, request: RiskSettings) -> RiskSettingsOut:
    """Change the settings and publish `risk.settings_changed`, in one transaction."""
    tenant = _tenant(caller)
    allowlist = None if request.symbol_allowlist is None else sorted(set(request.symbol_allowlist))
    actions: list[Action] = [TenantRecord.max_price_deviation_pct.set(str(request.max_price_deviation_pct))]
    actions.append(
        TenantRecord.symbol_allowlist.set(json.dumps(allowlist))
        if allowlist is not None
        else TenantRecord.symbol_allowlist.remove()
    )
    event = new_event(
        "risk.settings_changed",
        tenant_id=caller.tenant_id,
        source=SOURCE,
        data=RiskSettingsData(symbol_allowlist=allowlist, max_price_deviation_pct=str(request.max_price_deviation_pct)),
    )
    commit_with_events(lambda tx: stage_tenant_update(tx, tenant, actions), [event])
    return read_settings(caller)


def set_kill_switch(caller: Principal, engaged: bool) -> KillSwitchOut:
    """Engaging it rejects every new order, stops every bot and cancels every open order.

    The switch and its event are one transaction; the bots and orders it acts on are counted
    first. Stopping and canceling follow (each with its own events): should that be cut short,
    the switch already refuses every order, and engaging it again finishes the job."""
    tenant = _tenant(caller)
    active = list_active_bots(caller.tenant_id) if engaged else []
    open_orders = [o for o in list_open_orders(caller.tenant_id) if o.state not in TERMINAL] if engaged else []
    event_type = "risk.kill_switch_engaged" if engaged else "risk.kill_switch_released"
    event = new_event(
        event_type,
        tenant_id=caller.tenant_id,
        source=SOURCE,
        data=KillSwitchData(engaged=engaged, bots_stopped=len(active), orders_canceling=len(open_orders)),
    )
    commit_with_events(lambda tx: stage_tenant_update(tx, tenant, [TenantRecord.kill_switch.set(engaged)]), [event])
    stopped = 0
    for bot in active:
        try:
            bots.change_status(caller, bot.bot_id, BotAction.STOP)
            stopped += 1
        except Conflict:  # stopped meanwhile
            continue
    for order in open_orders:
        request_cancel(caller.tenant_id, order.order_id)
    return KillSwitchOut(kill_switch=engaged, bots_stopped=stopped, orders_canceling=len(open_orders))
