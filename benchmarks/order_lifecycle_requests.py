"""AWS requests per order lifecycle, counted for real, each with what it is for.

Every DynamoDB, SQS, EventBridge and KMS request is latency and money, and an order's life
crosses three functions (orders_api, trade worker, reconciler), so this drives whole lifecycles
through the real handlers against moto and counts every request on two sides, as
benchmarks.dynamodb_requests does:

* client side: a botocore `before-send` hook registered on EVERY client created in the process
  (botocore's ClientCreator is wrapped before anything from shared/ is imported, so PynamoDB's,
  powertools', the encryption SDK's KMS client and the pollers' clients are all seen), which also
  records the table/queue/bus, the key prefix, the transaction items, and the code that sent it
  (the innermost frames of shared/, functions/, localcloud/);
* server side: moto's WSGI app wrapped, counting requests by X-Amz-Target.

Scenarios: (a) a paper market order, (b) a paper limit order that rests, then fills on a later
reconciler run once the (steered) paper price crosses it, (c) Binance market and limit orders on
the fake Binance server (tests.support.fake_exchange), whose HTTP requests are listed too. The
trade worker runs through the template's SQS poller (what Lambda's event source mapping does).
Each order type runs twice: the first time with every per-container cache cleared before each
function (cold containers), the second warm; the tables show the warm one, followed by what the
cold one added.

    .venv/bin/python -m benchmarks.order_lifecycle_requests
"""

from __future__ import annotations

import importlib
import os
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from benchmarks._support import start_cloud
from benchmarks.dynamodb_requests import ServerTally, request_json
from tests.support.aws import TestCloud
from tests.support.botocore_clients import call_site, on_every_new_client

PROJECT_DIRS = frozenset({"shared", "functions", "localcloud"})
RANGE_KEY_NAMES = ("item", "position_key")  # PaperAccounts and Positions sort keys carry a kind prefix
PAPER_PRICES = {"BTC/USDT": Decimal("60000"), "ETH/USDT": Decimal("3000"), "SOL/USDT": Decimal("150")}
READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
POLLER = "pollers.SqsPoller.poll_once"
SERVICE_NAMES = {"sqs": "SQS", "eventbridge": "EventBridge", "kms": "KMS"}  # botocore's event names -> display


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class Call:
    """One HTTP request to AWS, as the client sent it."""

    service: str
    operation: str
    target: str = ""  # logical table / queue / bus
    index: str = ""
    key: str = ""  # the sort key's kind prefix (bal#, ord#, pos#, pnl#), when there is one
    items: tuple[str, ...] = ()  # TransactWriteItems: "Put Orders", "Put Positions pos#", ...
    detail: str = ""  # PutEvents: the detail types
    site: tuple[str, ...] = ()  # innermost project frames first: "execution.submit", ...

    def label(self) -> str:
        where = f" {self.target}" + (f".{self.index}" if self.index else "") if self.target else ""
        key = f" {self.key}" if self.key else ""
        if self.items:
            grouped = Counter(self.items)
            inside = ", ".join(f"{item}" + (f" x{n}" if n > 1 else "") for item, n in grouped.items())
            return f"{self.operation} [{inside}]"
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.operation}{where}{key}{detail}"

    @property
    def by_poller(self) -> bool:
        """Sent by the local event source mapping (Lambda's own SQS calls), not the function."""
        return bool(self.site) and self.site[0] == POLLER


def _key_prefix(attributes: dict[str, Any] | None) -> str:
    for name in RANGE_KEY_NAMES:
        value = str((attributes or {}).get(name, {}).get("S", ""))
        if "#" in value:
            return value.split("#", 1)[0] + "#"
    return ""


def _values_prefix(values: dict[str, Any] | None) -> str:
    """A Query's key condition value with a kind prefix (begins_with bal#), if any."""
    for value in (values or {}).values():
        text = value.get("S", "") if isinstance(value, dict) else ""
        head = text.split("#", 1)[0]
        if "#" in text and head.isalpha() and head.islower():
            return head + "#"
    return ""


class Tally:
    """botocore `before-send` hook on every client: one Call per HTTP request."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._hooked: set[int] = set()

    def _name(self, physical: str) -> str:
        if physical in self.names:
            return self.names[physical]
        tail = physical.rstrip("/").rsplit("/", 1)[-1]  # queue URLs, bus ARNs
        return self.names.get(tail, tail)

    def hook(self, request: Any, event_name: str, **kwargs: Any) -> None:
        _before_send, service, operation = event_name.split(".", 2)
        body = request_json(request)
        items = tuple(
            " ".join(
                filter(
                    None,
                    (kind, self._name(spec.get("TableName", "")), _key_prefix(spec.get("Item") or spec.get("Key"))),
                )
            )
            for entry in body.get("TransactItems", [])
            for kind, spec in entry.items()
        )
        entries = body.get("Entries", [])
        detail = ", ".join(e.get("DetailType", "") for e in entries if isinstance(e, dict))
        target = (
            body.get("TableName")
            or body.get("QueueUrl")
            or (entries[0].get("EventBusName", "") if entries and isinstance(entries[0], dict) else "")
        )
        key = _key_prefix(body.get("Key") or body.get("Item")) or _values_prefix(body.get("ExpressionAttributeValues"))
        call = Call(
            service,
            operation,
            self._name(target) if target else "",
            body.get("IndexName", ""),
            key,
            items,
            detail,
            call_site(PROJECT_DIRS),
        )
        with self._lock:
            self.calls.append(call)

    def watch(self, client: Any) -> None:
        if id(client) not in self._hooked:
            client.meta.events.register("before-send", self.hook)
            self._hooked.add(id(client))


def logical_names(cloud: TestCloud) -> dict[str, str]:
    """Physical name/URL/ARN -> the template's logical id (tables without the `Table` suffix)."""
    names: dict[str, str] = {}
    for logical, resource in cloud.resolver.resources.items():
        short = logical.removesuffix("Table")
        for value in (resource.ref, *resource.attributes.values()):
            names[str(value)] = short
            names[str(value).rstrip("/").rsplit("/", 1)[-1]] = short
    return names


# --------------------------------------------------------------------------- what each request is for

# (operation, target, a function in the call site, key prefix or "") -> purpose; first match wins.
PURPOSES: list[tuple[str, str, str, str, str]] = [
    (
        "ReceiveMessage",
        "TradeTasksQueue",
        "SqsPoller",
        "",
        "event source mapping (Lambda, not the function): receive a batch",
    ),
    ("DeleteMessageBatch", "TradeTasksQueue", "SqsPoller", "", "event source mapping: delete the handled messages"),
    ("PutItem", "Idempotency", "run_once", "", "idempotency: claim the key (INPROGRESS, conditional put)"),
    ("UpdateItem", "Idempotency", "run_once", "", "idempotency: store the answer (COMPLETED)"),
    ("GetItem", "Idempotency", "run_once", "", "idempotency: read the existing record"),
    ("DeleteItem", "Idempotency", "run_once", "", "idempotency: release the key after a failure"),
    ("GetItem", "Tenants", "place_order", "", "kill switch engaged? (no new orders while it is)"),
    ("GetItem", "ExchangeAccounts", "ensure_account", "", "the account belongs to the tenant (ensure_account)"),
    (
        "GetItem",
        "ExchangeAccounts",
        "open_exchange",
        "",
        "account row, read on EVERY open (a deleted or re-keyed account is never used from a warm cache)",
    ),
    (
        "GetItem",
        "ExchangeAccounts",
        "place_order",
        "",
        "account row AGAIN, for its exchange id (place_order; for paper always a miss)",
    ),
    (
        "Decrypt",
        "",
        "decrypt_credentials",
        "",
        "KMS: unwrap the credentials' data key (once per container, or when the stored credentials change)",
    ),
    ("GenerateDataKey", "", "encrypt_credentials", "", "KMS: a data key to encrypt the new credentials"),
    ("GetItem", "Orders", "create_intent", "", "intent already recorded? (a late retry of the same intent)"),
    (
        "TransactWriteItems",
        "",
        "create_intent",
        "",
        "the intent row (PENDING_SUBMIT) + its order.created outbox row, atomically",
    ),
    ("SendMessage", "TradeTasksQueue", "enqueue", "", "queue the trade task (FIFO group tenant#account)"),
    ("PutEvents", "", "publish_recorded", "", "publish the outbox event(s) to the bus"),
    ("UpdateItem", "Events", "mark_published", "", "outbox: mark the event published (leaves the relay's index)"),
    ("TransactWriteItems", "", "mark_published", "", "outbox: mark the commit's events published, one request"),
    ("GetItem", "Orders", "execute", "", "load the intent row (consistent)"),
    ("GetItem", "Tenants", "_risk_input", "", "risk: tenant's kill switch, symbol allowlist, max price deviation"),
    ("GetItem", "Bots", "_risk_input", "", "risk: the bot's limits"),
    ("GetItem", "Positions", "position_quantity", "", "risk: current position (position limit)"),
    ("Query", "Orders", "count_open_orders", "", "risk: the bot's open orders (max-open-orders rule)"),
    ("GetItem", "Positions", "realized_today", "", "risk: today's realized PnL (max daily loss)"),
    (
        "PutItem",
        "Orders",
        "mark_submitting",
        "",
        "claim: PENDING_SUBMIT -> SUBMITTING, version-checked, before the exchange call (one conditional put)",
    ),
    ("GetItem", "PaperAccounts", "create_order", "ord#", "paper: client order id already used?"),
    ("GetItem", "PaperAccounts", "fetch_order", "ord#", "paper: the order as the exchange holds it"),
    ("Query", "PaperAccounts", "_balance_rows", "bal#", "paper: the account's balances (consistent)"),
    ("Query", "PaperAccounts", "fetch_open_orders", "open#", "paper: pointers to the open orders only"),
    ("GetItem", "PaperAccounts", "fetch_open_orders", "ord#", "paper: each open order behind a pointer"),
    ("PutItem", "PaperAccounts", "_balance_rows", "bal#", "paper: create a starting balance (first use)"),
    ("TransactWriteItems", "", "_match", "", "paper: fill the resting order: order row + balance rows"),
    ("TransactWriteItems", "", "PaperExchange._place", "", "paper: new order row + balance rows (version-checked)"),
    (
        "Query",
        "PaperAccounts",
        "fetch_open_orders",
        "ord#",
        "paper: EVERY order row the account ever had, filtered for open in Python (drift check)",
    ),
    ("BatchGetItem", "", "stage_fill", "", "the position row the fill moves + today's PnL row, one request"),
    ("BatchGetItem", "", "order_and_balances", "", "paper: the order row of the client id + the balance rows"),
    ("GetItem", "Events", "read_sequence_counters", "", "event sequence counter (a row that carries none)"),
    ("TransactWriteItems", "", "record_usage", "", "billing: count the order placed (marker + hourly counter)"),
    (
        "TransactWriteItems",
        "",
        "record_exchange_state",
        "",
        "order row (state, fills) [+ position rows for a fill] + outbox rows, version-checked",
    ),
    ("Query", "Orders", "orders_to_reconcile", "", "non-terminal orders: one Query per shard of the sparse index"),
    ("GetItem", "Orders", "reconcile_open_orders", "", "load each non-terminal order (consistent)"),
    ("Query", "Orders", "find_by_client_order_id", "", "drift check: exchange order -> our order (GSI)"),
    ("GetItem", "Orders", "_report_drift", "", "drift check: load our order for an open exchange order"),
    ("TransactWriteItems", "", "_report_drift", "", "drift marker + drift event (once per exchange order)"),
    ("TransactWriteItems", "", "register_account", "", "the account row + exchange_account.created outbox row"),
    ("GetItem", "Tenants", "register_account", "", "plan: may this tenant add a live account?"),
    ("TransactWriteItems", "", "_watch_protection", "", "stop-loss/take-profit bookkeeping"),
]


def purpose(call: Call) -> str:
    for operation, target, function, key, text in PURPOSES:
        if call.operation != operation or (target and call.target != target) or (key and call.key != key):
            continue
        if any(function in frame for frame in call.site):
            return text
    return "?"


def _site(call: Call) -> str:
    return " <- ".join(call.site[:2]) if call.site else "(outside our code)"


# --------------------------------------------------------------------------- driving


@dataclass
class Phase:
    scenario: str
    name: str
    result: str
    calls: list[Call]
    server: Counter[str]
    exchange: list[str] = field(default_factory=list)  # fake Binance HTTP requests


class SteeredPrices:
    """The paper exchange's price source, moved by hand (installed before any PaperExchange)."""

    def __init__(self) -> None:
        self.prices = dict(PAPER_PRICES)

    def price(self, symbol: str, timestamp_ms: int) -> Decimal:
        return self.prices[symbol]


class Driver:
    """Calls the real handlers (orders_api through API Gateway events, the trade worker through
    the template's SQS poller, the reconciler) and slices the tallies into phases."""

    def __init__(self, cloud: TestCloud, tally: Tally, server: ServerTally) -> None:
        from functions.orders_api.app import lambda_handler as orders
        from localcloud.pollers import sqs_pollers

        self.cloud, self.tally, self.server, self.orders = cloud, tally, server, orders
        pollers = sqs_pollers(cloud.resolver, cloud.functions, cloud.endpoint, threading.Event())
        self.worker = next(p for p in pollers if p.function.logical_id == "TradeWorkerFunction")
        self.reconciler = cloud.functions["OrderReconcilerFunction"].handler()
        self.phases: list[Phase] = []
        self.fake: Any = None
        self.cold = False

    def _record(self, scenario: str, name: str, action: Callable[[], str]) -> str:
        if self.cold:
            fresh_container()
        calls_before, server_before = len(self.tally.calls), Counter(self.server.targets)
        exchange_before = len(self.fake.requests) if self.fake is not None else 0
        result = action()
        exchange = (
            [f"{r.method} {r.path}" for r in self.fake.requests[exchange_before:]] if self.fake is not None else []
        )
        self.phases.append(
            Phase(
                scenario, name, result, self.tally.calls[calls_before:], self.server.targets - server_before, exchange
            )
        )
        return result

    def place(self, scenario: str, caller: Any, body: dict[str, Any]) -> str:
        from tests.support.api import build_event, invoke

        order_ids: list[str] = []

        def call() -> str:
            event = build_event(
                "POST", "/orders", body=body, caller=caller, headers={"Idempotency-Key": secrets.token_hex(8)}
            )
            reply = invoke(self.orders, event)
            if reply.status != 202:
                raise SystemExit(f"POST /orders answered {reply.status}: {reply.text}")
            order_ids.append(reply.json["id"])
            return f"{reply.status} {reply.json['status']}"

        self._record(scenario, "API accept: POST /orders (orders_api)", call)
        return order_ids[0]

    def work(self, scenario: str, tenant_id: str, order_id: str) -> None:
        self._record(
            scenario,
            "worker: submit (trade_worker via the SQS poller)",
            lambda: f"{self.worker.poll_once(wait_seconds=0)} task",
        )
        self._status(tenant_id, order_id)

    def reconcile(self, scenario: str, name: str, tenant_id: str, order_id: str) -> None:
        from localcloud.functions import FakeLambdaContext

        def call() -> str:
            summary = self.reconciler({}, FakeLambdaContext("order-reconciler", 1024, 120))
            return str(dict(summary["outcomes"]))

        self._record(scenario, name, call)
        self._status(tenant_id, order_id)

    def _status(self, tenant_id: str, order_id: str) -> None:
        """Append the order's state to the last phase's result (read after its slice closed)."""
        from shared.orders.models import get_order

        order = get_order(tenant_id, order_id)
        self.phases[-1].result += f" -> order {order.status if order else 'missing'}"


def fresh_container() -> None:
    """What a new Lambda container starts without: open exchanges (ccxt clients, decrypted
    credentials) and loaded markets."""
    from shared.exchange import ccxt_adapter, connect

    connect._instances.clear()
    ccxt_adapter._markets_cache.clear()


def point_binance_at(server: Any) -> None:
    """tests.support.trading.point_binance_at without pytest: every ccxt binance call of the
    product code goes to the fake server, markets from the fake's file."""
    from shared.config import get_settings
    from shared.exchange import connect
    from shared.exchange.ccxt_adapter import EndpointOverride

    markets = importlib.import_module("tests.support.fake_exchange.engine").MARKETS_PATH
    override = {"binance": EndpointOverride(base_url=server.base_url, markets_file=str(markets))}
    settings = replace(get_settings(), exchange_timeout_ms=3000)
    setattr(connect, "endpoint_overrides", lambda: override)  # noqa: B010 - a module function, patched
    setattr(connect, "get_settings", lambda: settings)  # noqa: B010
    fresh_container()


def _market(symbol: str = "BTC/USDT", side: str = "buy", amount: str = "0.001", **extra: str) -> dict[str, Any]:
    return {"symbol": symbol, "side": side, "type": "market", "amount": amount, **extra}


def paper_scenarios(d: Driver, caller: Any, prices: SteeredPrices) -> None:
    tenant = caller.tenant_id
    for cold, scenario in ((True, "a0"), (False, "a")):
        d.cold = cold
        order_id = d.place(scenario, caller, _market())
        d.work(scenario, tenant, order_id)
    d.cold = False
    d.reconcile("a", "reconciler run (nothing open)", tenant, order_id)

    limit = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.001", "price": "59000"}
    order_id = d.place("b", caller, limit)
    d.work("b", tenant, order_id)
    d.reconcile("b", "reconciler run, price 60000: still resting", tenant, order_id)
    prices.prices["BTC/USDT"] = Decimal("58900")
    d.reconcile("b", "reconciler run, price 58900: crossed -> fills", tenant, order_id)
    prices.prices["BTC/USDT"] = PAPER_PRICES["BTC/USDT"]


def binance_scenarios(d: Driver, caller: Any) -> None:
    from tests.support.api import build_event, invoke

    # Imported by name at run time: the fake's package imports ccxt, which has no type information.
    fake_binance: Any = importlib.import_module("tests.support.fake_exchange.server").FakeBinance
    server = fake_binance(
        api_key="k-" + secrets.token_hex(8),
        secret="s-" + secrets.token_hex(16),
        initial_balances={"USDT": "1000000", "BTC": "10"},
    ).start()
    d.fake = server
    try:
        point_binance_at(server)
        from functions.exchange_accounts_api.app import lambda_handler as accounts

        account: list[str] = []

        def register() -> str:
            reply = invoke(
                accounts,
                build_event(
                    "POST",
                    "/exchange-accounts",
                    caller=caller,
                    body={"exchange": "binance", "label": "fake", "api_key": server.api_key, "secret": server.secret},
                ),
            )
            if reply.status != 201:
                raise SystemExit(f"POST /exchange-accounts answered {reply.status}: {reply.text}")
            account.append(reply.json["id"])
            return str(reply.status)

        d.cold = True
        d._record("c-setup", "register account: POST /exchange-accounts (one-time)", register)
        tenant, acct = caller.tenant_id, account[0]
        for cold, scenario in ((True, "c0"), (False, "c")):
            d.cold = cold
            order_id = d.place(scenario, caller, _market(exchange_account_id=acct))
            d.work(scenario, tenant, order_id)
        d.cold = False
        d.reconcile("c", "reconciler run (nothing open)", tenant, order_id)

        limit = {
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "limit",
            "amount": "0.001",
            "price": "59000",
            "exchange_account_id": acct,
        }
        order_id = d.place("d", caller, limit)
        d.work("d", tenant, order_id)
        d.reconcile("d", "reconciler run: still open on the exchange", tenant, order_id)
        from shared.orders.models import get_order

        record = get_order(tenant, order_id)
        if record is not None:
            server.fill_order(record.client_order_id)
        d.reconcile("d", "reconciler run: filled on the exchange meanwhile", tenant, order_id)
    finally:
        server.stop()
        d.fake = None


# --------------------------------------------------------------------------- report

SCENARIOS = {
    "a": "(a) paper market order: API accept -> trade worker -> FILLED (warm containers)",
    "b": "(b) paper limit order: rests OPEN, fills on a later reconciler run once the price crosses it",
    "c-setup": "(c) Binance on the fake exchange: registering the account (once)",
    "c": "(c) Binance market order on the fake exchange -> FILLED (warm containers)",
    "d": "(c') Binance limit order: OPEN, filled on the exchange, picked up by the reconciler",
}
COLD = {"a0": "a", "c0": "c"}
NOTES = {
    "c": "  (markets come from a file with the fake exchange: on Binance a cold container also loads them over HTTP)",
    "b": "  (the paper exchange fills resting orders only when someone looks: here the reconciler's fetch_order)",
}


def _totals(calls: list[Call]) -> str:
    own = [c for c in calls if not c.by_poller]
    ddb = [c for c in own if c.service == "dynamodb"]
    reads = sum(1 for c in ddb if c.operation in READS)
    tx_items = sum(len(c.items) for c in ddb if c.items)
    others = Counter(f"{SERVICE_NAMES.get(c.service, c.service)} {c.operation}" for c in own if c.service != "dynamodb")
    poller = len(calls) - len(own)
    text = f"DynamoDB {len(ddb)} ({reads} reads, {len(ddb) - reads} writes"
    text += f", {tx_items} items in transactions)" if tx_items else ")"
    if others:
        text += "; " + ", ".join(f"{name} {n}" for name, n in others.items())
    if poller:
        text += f"; + {poller} SQS by the event source mapping"
    return text


def _print_phase(phase: Phase) -> None:
    print(f"  {phase.name}: {phase.result}")
    for i, call in enumerate(phase.calls, 1):
        print(f"    {i:>2} {call.label():<66} {purpose(call)}  [{_site(call)}]")
    if not phase.calls:
        print("       (no AWS requests)")
    if phase.exchange:
        grouped = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in Counter(phase.exchange).items())
        print(f"       exchange HTTP: {grouped}")
    print(f"       = {_totals(phase.calls)}")


def _cold_extras(cold: list[Phase], warm: list[Phase]) -> list[str]:
    lines = []
    for c, w in zip(cold, warm, strict=False):
        extra = Counter(call.label() for call in c.calls) - Counter(call.label() for call in w.calls)
        fewer = Counter(call.label() for call in w.calls) - Counter(call.label() for call in c.calls)
        exchange = Counter(c.exchange) - Counter(w.exchange)
        parts = [f"+{n} {label}" for label, n in extra.items()] + [f"-{n} {label}" for label, n in fewer.items()]
        parts += [f"+{n} exchange {label}" for label, n in exchange.items()]
        lines.append(f"    {w.name.split(':')[0]:<12} {', '.join(parts) or 'nothing more'}")
    return lines


def report(phases: list[Phase]) -> None:
    print(
        "\nAWS requests per order lifecycle (real handlers on moto; each request counted by a client hook and by"
        " the server)\n"
    )
    by_scenario: dict[str, list[Phase]] = {}
    for phase in phases:
        by_scenario.setdefault(phase.scenario, []).append(phase)
    for key, title in SCENARIOS.items():
        group = by_scenario.get(key, [])
        if not group:
            continue
        print(title)
        if key in NOTES:
            print(NOTES[key])
        for phase in group:
            _print_phase(phase)
        if len(group) > 1:
            print(f"  TOTAL: {_totals([call for phase in group for call in phase.calls])}")
        cold_key = next((k for k, v in COLD.items() if v == key), None)
        if cold_key and by_scenario.get(cold_key):
            print(
                "  The first such order (cold containers: caches cleared before each function; for paper also the "
                "account's first use) also made:"
            )
            for line in _cold_extras(by_scenario[cold_key], group):
                print(line)
        print()
    _report_summary(by_scenario)
    _report_checks(phases)


def _report_summary(by_scenario: dict[str, list[Phase]]) -> None:
    """One line per phase: the counts only."""
    header = (
        f"{'scenario':<9} {'phase':<48} {'DynamoDB':>8} {'reads':>5} {'writes':>6} {'tx items':>8} "
        f"{'SQS':>4} {'EvBr':>4} {'KMS':>4} {'ESM':>4} {'exch':>4}"
    )
    print("Summary (warm orders; ESM = SQS calls of the event source mapping, exch = exchange HTTP requests):")
    print(header)
    print("-" * len(header))
    for key in SCENARIOS:
        for phase in by_scenario.get(key, []):
            own = [c for c in phase.calls if not c.by_poller]
            ddb = [c for c in own if c.service == "dynamodb"]
            reads = sum(1 for c in ddb if c.operation in READS)
            count = Counter(c.service for c in own)
            label = phase.name.split(" (")[0].split(": POST")[0][:48]
            print(
                f"{key:<9} {label:<48} {len(ddb):>8} {reads:>5} {len(ddb) - reads:>6} "
                f"{sum(len(c.items) for c in ddb):>8} {count['sqs']:>4} {count['eventbridge']:>4} {count['kms']:>4} "
                f"{len(phase.calls) - len(own):>4} {len(phase.exchange):>4}"
            )
    print()


def _report_checks(phases: list[Phase]) -> None:
    mismatches = []
    for phase in phases:
        client = Counter(c.operation for c in phase.calls)
        if client != phase.server:
            mismatches.append(f"{phase.scenario} {phase.name}: client {dict(client)} vs server {dict(phase.server)}")
    if mismatches:
        print("Client and server counts DIFFER (a client was not hooked, or a request was retried):")
        for line in mismatches:
            print(f"  {line}")
    else:
        print("Client-side and server-side counts agree for every phase.")
    unexplained = sorted({f"{c.label()} [{_site(c)}]" for p in phases for c in p.calls if purpose(c) == "?"})
    if unexplained:
        print("Requests without a known purpose (new code paths?):")
        for line in unexplained:
            print(f"  {line}")


def main() -> None:
    cloud = start_cloud()  # before anything from shared/functions is imported
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    tally = Tally(logical_names(cloud))
    on_every_new_client(tally.watch)
    wsgi = cloud.server._server
    if wsgi is None:
        raise SystemExit("moto server is not running")
    server = ServerTally(wsgi.app)
    wsgi.app = server
    prices = SteeredPrices()
    try:
        from shared.exchange import paper

        setattr(paper, "default_price_source", lambda: prices)  # noqa: B010 - a module function, patched
        from functions.auth_api.app import lambda_handler as auth
        from tests.support.tenants import new_tenant

        caller = new_tenant(auth)[0]
        driver = Driver(cloud, tally, server)
        paper_scenarios(driver, caller, prices)
        binance_scenarios(driver, caller)
        report(driver.phases)
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
