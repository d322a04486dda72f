"""Tenant-wide risk settings and the kill switch."""

from __future__ import annotations

import json
from decimal import Decimal

from pynamodb.expressions.update import Action

from shared.auth.principal import Principal
from shared.bots import service as bots
from shared.bots.lifecycle import BotAction, BotStatus
from shared.bots.models import BotRecord
from shared.config import get_settings
from shared.errors import Conflict, NotFound
from shared.events import catalog
from shared.events.envelope import new_event
from shared.events.recording import commit_with_events
from shared.orders.intents import request_cancel
from shared.orders.models import OrderRecord
from shared.risk.schemas import KillSwitchOut, RiskSettings, RiskSettingsOut
from shared.tenants.models import TenantRecord, get_tenant

SOURCE = "cryptoorchestrator.risk"


def _tenant(caller: Principal) -> TenantRecord:
    tenant = get_tenant(caller.tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    return tenant


def read_settings(caller: Principal) -> RiskSettingsOut:
    tenant = _tenant(caller)
    deviation = (Decimal(tenant.max_price_deviation_pct) if tenant.max_price_deviation_pct
                 else get_settings().default_max_price_deviation_pct)
    return RiskSettingsOut(
        symbol_allowlist=json.loads(tenant.symbol_allowlist) if tenant.symbol_allowlist else None,
        max_price_deviation_pct=deviation, kill_switch=bool(tenant.kill_switch))


def update_settings(caller: Principal, request: RiskSettings) -> RiskSettingsOut:
    tenant = _tenant(caller)
    allowlist = None if request.symbol_allowlist is None else json.dumps(sorted(set(request.symbol_allowlist)))
    actions: list[Action] = [TenantRecord.max_price_deviation_pct.set(str(request.max_price_deviation_pct))]
    actions.append(TenantRecord.symbol_allowlist.set(allowlist) if allowlist is not None
                   else TenantRecord.symbol_allowlist.remove())
    tenant.update(actions=actions)
    return read_settings(caller)


def _open_orders(tenant_id: str) -> list[OrderRecord]:
    return list(OrderRecord.query(tenant_id, filter_condition=OrderRecord.open_shard.exists()))


def set_kill_switch(caller: Principal, engaged: bool) -> KillSwitchOut:
    """Engaging it rejects every new order, stops every bot and cancels every open order."""
    tenant = _tenant(caller)
    tenant.update(actions=[TenantRecord.kill_switch.set(engaged)])
    stopped = canceling = 0
    if engaged:
        for bot in BotRecord.query(caller.tenant_id):
            if bot.status in (BotStatus.RUNNING.value, BotStatus.PAUSED.value):
                try:
                    bots.change_status(caller, bot.bot_id, BotAction.STOP)
                    stopped += 1
                except Conflict:
                    continue
        for order in _open_orders(caller.tenant_id):
            request_cancel(caller.tenant_id, order.order_id)
            canceling += 1
    event_type = "risk.kill_switch_engaged" if engaged else "risk.kill_switch_released"
    commit_with_events(lambda tx: None, [new_event(event_type, tenant_id=caller.tenant_id, source=SOURCE,
                                                   data=catalog.KillSwitchData(engaged=engaged, bots_stopped=stopped,
                                                                               orders_canceling=canceling))])
    return KillSwitchOut(kill_switch=engaged, bots_stopped=stopped, orders_canceling=canceling)
