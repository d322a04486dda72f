"""One bot tick, as the strategy worker runs it: decide on the bar that just closed, turn the
decision into order intents, log it on the bot's activity.

Exactly once, whatever is delivered how often:
- the bot's state row (versioned) remembers the last bar evaluated, so a redelivered or repeated
  tick finds it done, and of two workers on one tick only one saves;
- every order goes through `create_intent` with an intent id derived from the decision, never
  from the delivery: indicator bots `tick:<bar close ms>:target` (one order per bar), stepped
  bots (dca, grid) `e<epoch>:<leg>` (a resting order is wanted again every bar until it fills, and
  a leg never names two orders), so a crash between the order and the state save is harmless.

Indicator bots move the position they really hold (the ledger, scope = bot) toward the wanted
one; while one of their orders is still open they wait, so a slow fill is never doubled. A
reversion bar that only carries an earlier decision (`Decision.carried`) keeps what the bot holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import TypeAdapter

from shared.bots.activity import record_activity
from shared.bots.lifecycle import BotStatus
from shared.bots.limits import RiskLimits
from shared.bots.models import BotRecord, get_bot
from shared.bots.schedule import BotTick
from shared.bots.state import BotStateRecord, StateConflict, load_state, save_state
from shared.config import get_settings
from shared.errors import AppError, ValidationFailed
from shared.exchange.protocol import Market
from shared.market_data.markets import MarketKey
from shared.market_data.store import Fetch, Gap, exchange_fetch, read_window
from shared.money import decimal_text
from shared.observability import logger
from shared.orders.intents import create_intent, request_cancel
from shared.orders.models import count_open_orders, get_order
from shared.orders.schemas import OrderCreate
from shared.orders.states import TERMINAL
from shared.positions.ledger import position_quantity
from shared.strategies.candles import Candles
from shared.strategies.order_plan import Fill, WantedOrder, price_of
from shared.strategies.params import StrategyConfig
from shared.strategies.registry import STRATEGIES, IndicatorStrategy, SteppedStrategy

_CONFIG: TypeAdapter[Any] = TypeAdapter(StrategyConfig)
ENTRY = "tick"  # the activity entry of a tick: one per bar, rewritten on redelivery


@dataclass
class Outcome:
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)


def _market_rules(exchange_id: str, symbol: str) -> Market:
    if exchange_id == "paper":
        from shared.exchange.paper import PaperExchange

        return PaperExchange("public").market(symbol)
    from shared.exchange.connect import public_exchange

    return public_exchange(exchange_id).market(symbol)


def _place(bot: BotRecord, exchange_id: str, intent_id: str, request: OrderCreate) -> dict[str, Any]:
    """The intent's order (the existing one when this intent was already placed)."""
    try:
        order = create_intent(
            tenant_id=bot.tenant_id,
            source=bot.bot_id,
            intent_id=intent_id,
            bot_id=bot.bot_id,
            account_id=bot.exchange_account_id,
            exchange_id=exchange_id,
            request=request,
        )
    except ValidationFailed as exc:
        if exc.code != "idempotency_key_reused":
            raise
        # A redelivery that saw a different position: the bar's order exists; never a second one.
        details = exc.details if isinstance(exc.details, dict) else {}
        return {"intent_id": intent_id, "order_id": details.get("order_id"), "existing": True}
    return {
        "intent_id": intent_id,
        "order_id": order.order_id,
        "side": order.side,
        "type": order.type,
        "amount": order.amount,
        "price": order.price,
        "status": order.status,
    }


# ------------------------------------------------------------------ indicator strategies


def _indicator_tick(
    bot: BotRecord,
    strategy: IndicatorStrategy[Any],
    params: Any,
    window: Candles,
    tick: BotTick,
    market: Market,
    exchange_id: str,
) -> Outcome:
    decision = strategy.decide_last(window, params)
    held = position_quantity(bot.tenant_id, bot.exchange_account_id, bot.symbol, bot.bot_id)
    close = price_of(window.close[-1])
    data: dict[str, Any] = {
        "indicators": decision.indicators,
        "wanted_position": decision.position,
        "carried": decision.carried,
        "position": decimal_text(held),
        "close": decimal_text(close),
    }
    if decision.carried:
        return Outcome("no entry or exit condition on this bar: keeping the position held", data)
    open_orders = count_open_orders(bot.tenant_id, bot.bot_id, exclude="")
    if open_orders:
        return Outcome(f"waiting: {open_orders} order(s) of this bot still open", data)
    notional = params.position_notional()
    if notional is None:
        notional = RiskLimits.model_validate_json(bot.risk_json).max_position_notional
    target = notional * Decimal(repr(decision.position)) / close
    delta = target - held
    threshold = notional * get_settings().bot_rebalance_threshold_pct / 100 / close
    if abs(delta) <= threshold and not (decision.position == 0 and held > 0):
        return Outcome("position already on target", data)
    side: Literal["buy", "sell"] = "buy" if delta > 0 else "sell"
    amount = market.amount_to_step(abs(delta))
    refused = market.refusal(amount, close)
    if refused:
        return Outcome(f"no order: {refused.message}", data)
    request = OrderCreate(
        exchange_account_id=bot.exchange_account_id, symbol=bot.symbol, side=side, type="market", amount=amount
    )
    placed = _place(bot, exchange_id, f"tick:{tick.close_ms}:target", request)
    verb = "buy" if side == "buy" else "sell"
    return Outcome(f"{verb} {decimal_text(amount)} to move to position {decision.position:g}", data, [placed])


# ------------------------------------------------------------------ stepped strategies (dca, grid)


def _new_fills(bot: BotRecord, legs: dict[str, dict[str, Any]]) -> list[Fill]:
    """Fills of the bot's tracked orders not yet applied to its strategy state (updates `legs`)."""
    fills: list[Fill] = []
    for leg, info in legs.items():
        if info.get("done"):
            continue
        order = get_order(bot.tenant_id, info["order_id"])
        if order is None:
            continue
        filled, cost = Decimal(order.filled), Decimal(order.cost)
        seen, seen_cost = Decimal(info.get("seen", "0")), Decimal(info.get("seen_cost", "0"))
        closed = order.state in TERMINAL
        if filled > seen:
            price = (cost - seen_cost) / (filled - seen)
            fills.append(Fill(leg, order.side, filled - seen, price, closes_order=closed))  # type: ignore[arg-type]
            info["seen"], info["seen_cost"] = str(filled), str(cost)
        if closed:
            info["done"] = order.status
    return fills


def _stepped_tick(
    bot: BotRecord,
    strategy: SteppedStrategy[Any, Any],
    params: Any,
    window: Candles,
    state: BotStateRecord,
    market: Market,
    exchange_id: str,
) -> Outcome:
    legs = state.legs()
    fills = _new_fills(bot, legs)
    stored = None if state.strategy_state_json is None else json.loads(state.strategy_state_json)
    step = strategy.step(params, strategy.load_state(stored), window, tuple(fills))
    outcome = Outcome("", {"indicators": step.indicators, "fills_applied": len(fills)})
    notes: list[str] = []
    wanted: dict[str, WantedOrder] = {order.leg: order for order in step.orders}
    # Cancels first: their trade tasks run before the new orders' in the account's FIFO group, so
    # what an old order reserved (a take profit's coins) is free when its replacement arrives.
    for leg, info in list(legs.items()):
        if leg in wanted:
            continue
        if info.get("done"):
            del legs[leg]  # ended and no longer wanted: forget it
        elif not info.get("cancel_requested"):
            request_cancel(bot.tenant_id, info["order_id"])
            info["cancel_requested"] = True
            notes.append(f"{leg} no longer wanted: cancel requested")
    for leg, order in wanted.items():
        if leg in legs:
            if legs[leg].get("done"):
                notes.append(f"{leg} ended {legs[leg]['done']} and is not placed again")
            continue
        amount = market.amount_to_step(order.amount)
        price = None if order.price is None else market.price_to_step(order.price, order.side)
        refused = market.refusal(amount, price if price is not None else price_of(window.close[-1]))
        if refused:
            notes.append(f"{leg}: {refused.message}")
            continue
        request = OrderCreate(
            exchange_account_id=bot.exchange_account_id,
            symbol=bot.symbol,
            side=order.side,
            type=order.type,
            amount=amount,
            price=price,
        )
        placed = _place(bot, exchange_id, f"e{int(state.epoch)}:{leg}", request)
        placed.update(leg=leg, reason=order.reason)
        outcome.orders.append(placed)
        legs[leg] = {"order_id": placed["order_id"], "seen": "0", "seen_cost": "0"}
    state.strategy_state_json = json.dumps(strategy.dump_state(step.state))
    state.legs_json = json.dumps(legs, sort_keys=True)
    outcome.data["notes"] = notes
    if outcome.orders:
        outcome.summary = f"placed {len(outcome.orders)} order(s): " + ", ".join(o["leg"] for o in outcome.orders)
    else:
        outcome.summary = "no new order: " + ("; ".join(notes) if notes else "every wanted order is in place")
    return outcome


# ------------------------------------------------------------------ the tick


def run_tick(tick: BotTick, *, now_ms: int | None = None, fetch: Fetch = exchange_fetch) -> str:
    """Decide for one bot on one bar; returns what happened (for the worker's log)."""
    bot = get_bot(tick.tenant_id, tick.bot_id)
    if bot is None or bot.status != BotStatus.RUNNING.value:
        return "skipped: the bot is not running"
    if bot.market_key != tick.market:
        return "skipped: the bot's market changed since this tick was scheduled"
    try:
        config = _CONFIG.validate_json(bot.strategy_json)
    except ValueError as exc:
        record_activity(
            tick.tenant_id,
            tick.bot_id,
            "error",
            "the stored strategy is not valid any more",
            data={"error": str(exc)[:300]},
            at_ms=tick.close_ms,
            entry_id=ENTRY,
        )
        return "error: invalid strategy"
    strategy = STRATEGIES[config.type]
    if not isinstance(strategy, IndicatorStrategy | SteppedStrategy):
        return "skipped: signal bots trade on signals"
    state = load_state(bot.tenant_id, bot.bot_id, bot.strategy_json)
    if int(state.last_bar_ms) >= tick.close_ms:
        return "skipped: this bar was already evaluated"
    market = MarketKey.parse(tick.market)
    bars = min(strategy.lookback(config.params), get_settings().market_data_max_bars)
    window = read_window(market, bars, tick.close_ms, now_ms=now_ms, fetch=fetch)
    bar_open = tick.close_ms - market.span_ms
    if isinstance(window, Gap):
        record_activity(
            bot.tenant_id,
            bot.bot_id,
            "market_data_gap",
            f"tick skipped: {window.reason}",
            data={"market": tick.market, "last_bar_open_ms": window.last_open_ms},
            bar_time_ms=bar_open,
            at_ms=tick.close_ms,
            entry_id=ENTRY,
        )
        return "skipped: market data gap"
    try:
        rules = _market_rules(market.exchange_id, bot.symbol)
        if isinstance(strategy, IndicatorStrategy):
            outcome = _indicator_tick(bot, strategy, config.params, window, tick, rules, market.exchange_id)
        else:
            outcome = _stepped_tick(bot, strategy, config.params, window, state, rules, market.exchange_id)
    except AppError as exc:
        record_activity(
            bot.tenant_id,
            bot.bot_id,
            "error",
            f"tick failed: {exc}",
            data={"code": exc.code},
            bar_time_ms=bar_open,
            at_ms=tick.close_ms,
            entry_id=ENTRY,
        )
        raise
    state.last_bar_ms = tick.close_ms
    try:
        save_state(state)
    except StateConflict:
        logger.info("another worker evaluated this tick first", extra={"bot_id": bot.bot_id})
        return "skipped: evaluated by another worker"
    record_activity(
        bot.tenant_id,
        bot.bot_id,
        "decision",
        outcome.summary,
        data={**outcome.data, "orders": outcome.orders},
        bar_time_ms=bar_open,
        at_ms=tick.close_ms,
        entry_id=ENTRY,
    )
    return outcome.summary
