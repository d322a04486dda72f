"""The paper-exchange order pipeline on the local cloud, end to end over HTTP.

Starts `localcloud.cloud.LocalCloud` in-process (moto server, HTTP gateway with the authorizer,
SQS pollers, schedules), signs tenants up through the API, and submits manual market orders
(`POST /orders`, X-Api-Key, a unique Idempotency-Key each) from a few client threads. Fills are
observed the way an integrator would: an EventBridge rule on the domain bus matching
`order.filled`, delivering to an SQS queue that is drained while the orders run. Reports API
accept latency and throughput, accept -> FILLED latency (the client's clock at the 202 against
the event's `occurred_at`, both this machine's wall clock) and the final state of every order.

The local cloud runs the trade worker's SQS source as Lambda scales it, several pollers at once
(localcloud.pollers), and trade tasks are FIFO per tenant#account: one account's orders run one
after another, different accounts' side by side; `--tenants` spreads the orders over several
tenants (one paper account each, one message group each). The API's functions run in
`--api-instances` instance processes (localcloud.instances, as `make dev`), so concurrent requests
are served side by side as Lambda instances would.

The gateway, the other functions and the clients share this interpreter (one GIL); moto runs in
its own process as in `make dev` (localcloud.moto_process), or with `--moto in-process` in this one
(then everything else competes with it for one GIL). The figures are local-cloud figures, slower than AWS: the
run prints where moto's time went (a request meter wraps moto's WSGI app in either mode). moto
runs with the local cloud's fixes (localcloud.moto_transactions: transactions no longer copy whole
tables; localcloud.moto_speedups). To keep within about 3 minutes on 2 cores, clients stop
starting orders after --submit-seconds (default 120: all 1,000 at 8.4 orders/s or more) and the
output says how many of --orders were sent. moto's instance tracker (which keeps every model
object it ever made alive) is emptied every second in-process unless --keep-moto-leak (every 5 s
by the moto process itself).

    .venv/bin/python -m benchmarks.paper_pipeline [--orders 1000] [--threads 4] [--tenants 4]
        [--submit-seconds 120] [--wait 75] [--probe 20] [--moto process|in-process] [--api-instances 2]
        [--keep-moto-leak]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from benchmarks._support import PASSWORD
from benchmarks._trading import (
    FunctionTimer,
    MotoInstanceTrim,
    MotoMeter,
    tracked_moto_instances,
)
from localcloud.__main__ import DEFAULT_API_INSTANCES
from localcloud.cloud import LocalCloud

ORDER_BODY: dict[str, str] = {"symbol": "BTC/USDT", "type": "market", "amount": "0.0001"}
# Enough for any run; BTC too, so a sell that overtakes its buy in the queue still fills.
STARTING_BALANCES = "USDT=100000000,BTC=1000"


class Api:
    """Minimal JSON-over-HTTP client (one connection per request: the gateway speaks HTTP/1.0)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            payload = None if body is None else json.dumps(body)
            sent = {"Content-Type": "application/json", **(headers or {})} if payload else dict(headers or {})
            connection.request(method, self.prefix + path, body=payload, headers=sent)
            response = connection.getresponse()
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
        finally:
            connection.close()


@dataclass
class Tenant:
    tenant_id: str
    api_key: str


@dataclass
class Accepted:
    order_id: str
    tenant_id: str
    sent_at: float  # time.time() just before the request
    accepted_at: float  # time.time() once the 202 was read
    latency_s: float  # perf_counter difference


@dataclass
class Run:
    accepted: list[Accepted] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def sign_up(api: Api, n: int) -> Tenant:
    """signup -> login -> API key with read+trade, all through the HTTP API."""
    email = f"pipeline-{n}-{secrets.token_hex(4)}@example.com"
    status, body = api.call(
        "POST", "/auth/signup", {"email": email, "password": PASSWORD, "tenant_name": f"pipeline {n}"}
    )
    if status != 201:
        raise SystemExit(f"signup answered {status}: {body}")
    tenant_id = body["tenant"]["id"]
    status, body = api.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"login answered {status}: {body}")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    status, body = api.call("POST", "/api-keys", {"name": "pipeline", "scopes": ["read", "trade"]}, bearer)
    if status != 201:
        raise SystemExit(f"POST /api-keys answered {status}: {body}")
    return Tenant(tenant_id, body["key"])


class FillTap:
    """An SQS queue behind an EventBridge rule for `order.filled` on the domain bus, drained in a
    thread: order id -> the event's occurred_at (epoch seconds), first delivery wins."""

    def __init__(self, endpoint: str, bus: str) -> None:
        import boto3

        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
        name = f"bench-fills-{secrets.token_hex(4)}"
        self.url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps({"source": ["cryptoorchestrator"], "detail-type": ["order.filled"]}),
        )
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self.filled: dict[str, float] = {}
        self.duplicates = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="fill-tap", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self.stop.is_set():
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            for message in messages:
                detail = json.loads(message["Body"])["detail"]
                at = datetime.fromisoformat(detail["occurred_at"].replace("Z", "+00:00")).timestamp()
                with self._lock:
                    if detail["data"]["order_id"] in self.filled:
                        self.duplicates += 1
                    else:
                        self.filled[detail["data"]["order_id"]] = at
            if messages:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )

    def filled_at(self, order_id: str) -> float | None:
        with self._lock:
            return self.filled.get(order_id)

    def count(self) -> int:
        with self._lock:
            return len(self.filled)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)


def submit(api: Api, tenants: list[Tenant], orders: int, threads: int, run: Run, window_s: float) -> None:
    """Up to `orders` market orders, alternating buy/sell and round-robin over tenants, from
    `threads` clients; no new order is started once `window_s` seconds have passed (0: no limit)."""
    numbers = iter(range(orders))
    numbers_lock = threading.Lock()
    deadline = time.monotonic() + window_s if window_s > 0 else float("inf")

    def client() -> None:
        while True:
            with numbers_lock:
                n = next(numbers, None) if time.monotonic() < deadline else None
            if n is None:
                return
            tenant = tenants[n % len(tenants)]
            body = {**ORDER_BODY, "side": "buy" if (n // len(tenants)) % 2 == 0 else "sell"}
            headers = {"X-Api-Key": tenant.api_key, "Idempotency-Key": f"bench-{n}-{secrets.token_hex(6)}"}
            sent_at, start = time.time(), time.perf_counter()
            try:
                status, reply = api.call("POST", "/orders", body, headers)
            except OSError as exc:
                with run.lock:
                    run.refused[type(exc).__name__] += 1
                continue
            latency, accepted_at = time.perf_counter() - start, time.time()
            with run.lock:
                if status == 202:
                    run.accepted.append(Accepted(reply["id"], tenant.tenant_id, sent_at, accepted_at, latency))
                else:
                    code = reply.get("error", {}).get("code") if isinstance(reply, dict) else None
                    run.refused[f"{status} {code or reply}"] += 1

    workers = [threading.Thread(target=client, name=f"client-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def probe_unloaded(api: Api, tenant: Tenant, tap: FillTap, n: int) -> tuple[list[float], list[float]]:
    """Accept latencies and accept -> filled for `n` orders sent one at a time, each after the
    previous one filled: the pipeline's own latency, with no queue in front of anything."""
    accepts: list[float] = []
    samples: list[float] = []
    for i in range(n):
        body = {**ORDER_BODY, "side": "buy" if i % 2 == 0 else "sell"}
        headers = {"X-Api-Key": tenant.api_key, "Idempotency-Key": f"probe-{i}-{secrets.token_hex(6)}"}
        start = time.perf_counter()
        status, reply = api.call("POST", "/orders", body, headers)
        accepts.append(time.perf_counter() - start)
        accepted_at = time.time()
        if status != 202:
            raise SystemExit(f"probe order answered {status}: {reply}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            filled_at = tap.filled_at(reply["id"])
            if filled_at is not None:
                samples.append(filled_at - accepted_at)
                break
            time.sleep(0.005)
    return accepts, samples


def final_states(api: Api, tenants: list[Tenant]) -> Counter[str]:
    """Every order's status through GET /orders, page by page (limit 100)."""
    states: Counter[str] = Counter()
    for tenant in tenants:
        cursor: str | None = None
        while True:
            path = "/orders?limit=100" + (f"&cursor={cursor}" if cursor else "")
            status, page = api.call("GET", path, headers={"X-Api-Key": tenant.api_key})
            if status != 200:
                states[f"(GET /orders answered {status})"] += 1
                break
            states.update(item["status"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return states


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000.0


@dataclass
class Observed:
    """Everything the report needs besides the run itself."""

    states: Counter[str]
    batches: int
    setup_s: float
    waited_s: float
    schedules: dict[str, int]
    functions: dict[str, list[float]]
    moto: MotoMeter
    unloaded: list[float] = field(default_factory=list)
    unloaded_accepts: list[float] = field(default_factory=list)
    tracked: int = 0
    trims: int = 0
    moto_where: str = "its own process"


def _describe_run(args: argparse.Namespace, run: Run) -> None:
    submitted = len(run.accepted) + sum(run.refused.values())
    print(
        f"\nPaper pipeline on the local cloud: manual market orders (BTC/USDT {ORDER_BODY['amount']}, buy/sell "
        f"alternating), {args.threads} client threads, {args.tenants} tenant(s) with one paper account each"
    )
    if submitted < args.orders:
        print(
            f"  SUBMITTED {submitted} OF --orders {args.orders}: clients stop starting orders after "
            f"--submit-seconds {args.submit_seconds:g} so the run fits the 3-minute budget (--submit-seconds 0 = "
            "no limit)"
        )
    else:
        print(f"  submitted all {submitted} orders")
    print(
        f"  The local cloud runs {args.pollers} trade-worker pollers (batch 10) and the API in "
        f"{args.api_instances or 'no'} instance process(es){'' if args.api_instances else ' (in this one)'};"
        f"\n  trade tasks are FIFO per tenant#account: each account's orders run in order, {args.tenants} "
        "account(s) side by side."
    )


def _report_accepts(run: Run, accepted: list[Accepted], seen: Observed) -> None:
    latencies = [a.latency_s for a in accepted]
    span = accepted[-1].accepted_at - min(a.sent_at for a in accepted)
    print(
        f"API accept (POST /orders -> 202): {len(accepted)} accepted, {sum(run.refused.values())} refused"
        f"{' ' + str(dict(run.refused)) if run.refused else ''}"
    )
    print(
        f"  latency ms: p50 {_ms(latencies, 0.5):.1f}, p99 {_ms(latencies, 0.99):.1f}, "
        f"mean {statistics.fmean(latencies) * 1000:.1f}, max {max(latencies) * 1000:.1f}"
    )
    print(f"  throughput: {len(accepted) / span:.1f} accepts/s ({len(accepted)} in {span:.1f} s)")
    for logical_id, label in (("AuthorizerFunction", "authorizer"), ("OrdersApiFunction", "orders_api")):
        runs = seen.functions.get(logical_id)
        if runs:
            print(
                f"  {label} run time per invocation ms: p50 {_ms(runs, 0.5):.1f}, p99 {_ms(runs, 0.99):.1f} "
                f"({len(runs)} invocations)"
            )
    print("  (accept latency = waiting for a free instance + authorizer + orders_api + the gateway)")


def _report_end_to_end(accepted: list[Accepted], tap: FillTap, seen: Observed) -> None:
    filled = [(a, tap.filled[a.order_id]) for a in accepted if a.order_id in tap.filled]
    print("\nEnd to end (202 -> the order.filled event's occurred_at, millisecond resolution, same clock):")
    if filled:
        to_fill = [at - a.accepted_at for a, at in filled]
        first_accept, last_fill = accepted[0].accepted_at, max(at for _, at in filled)
        rate = len(filled) / (last_fill - first_accept)
        print(
            f"  {len(filled)} of {len(accepted)} accepted orders filled: {rate:.1f} intents/s "
            f"(first accept -> last fill, {last_fill - first_accept:.1f} s)"
        )
        print(
            f"  accept -> filled ms: p50 {_ms(to_fill, 0.5):.0f}, p99 {_ms(to_fill, 0.99):.0f}, "
            f"min {min(to_fill) * 1000:.0f}, max {max(to_fill) * 1000:.0f}"
        )
        behind = last_fill - accepted[-1].accepted_at
        verdict = "it kept up" if behind < 1 else "a backlog built up: the worker side is the bottleneck"
        print(f"  last fill {behind:.1f} s after the last accept ({verdict})")
    missing = len(accepted) - len(filled)
    if missing:
        print(f"  {missing} accepted order(s) produced no order.filled event within {seen.waited_s:.0f} s")
    if tap.duplicates:
        print(f"  {tap.duplicates} duplicate order.filled deliveries (at-least-once; deduplicated on order id)")
    worker = seen.functions.get("TradeWorkerFunction", [])
    if worker:
        mean_batch = len(accepted) / max(seen.batches, 1)
        print(
            f"  trade worker: {seen.batches} batches for {len(accepted)} tasks (mean {mean_batch:.1f} of 10);"
            f" run time per batch ms p50 {_ms(worker, 0.5):.0f}, p99 {_ms(worker, 0.99):.0f}; "
            f"{sum(worker) / len(accepted) * 1000:.0f} ms of run time per task (batches overlap)"
        )
    if seen.schedules:
        print(f"  schedules that fired meanwhile: {', '.join(f'{k} x{v}' for k, v in sorted(seen.schedules.items()))}")


def _report_endpoint(accepted: list[Accepted], seen: Observed) -> None:
    print(f"\nThe embedded AWS endpoint (moto, {seen.moto_where}) during the whole run:")
    for line in seen.moto.summary():
        print(f"  {line}")
    orders = len(accepted) + len(seen.unloaded)
    print(
        f"  = {sum(seen.moto.counts.values()) / orders:.1f} AWS requests per order ({orders} orders), everything "
        "included (signups, auth, pollers' receives, the fill tap, schedules)"
    )
    if seen.moto_where != "same process":
        print("  moto's instance tracker is emptied every 5 s inside the moto process")
    elif seen.trims:
        print(
            f"  moto's instance tracker was emptied {seen.trims} times during the run (moto keeps every model "
            "object it makes; --keep-moto-leak to keep them)"
        )
    else:
        print(f"  moto's instance tracker holds {seen.tracked} model objects at the end (--keep-moto-leak)")


def report(args: argparse.Namespace, run: Run, tap: FillTap, seen: Observed) -> None:
    accepted = sorted(run.accepted, key=lambda a: a.accepted_at)
    _describe_run(args, run)
    print(f"  setup (cloud start, {args.tenants} x signup/login/API key): {seen.setup_s:.1f} s\n")
    if not accepted:
        print(f"No order was accepted; refusals: {dict(run.refused)}")
        return
    if seen.unloaded:
        print(f"Unloaded first: {len(seen.unloaded)} orders one at a time, each sent after the previous one filled")
        print(f"  API accept ms: p50 {_ms(seen.unloaded_accepts, 0.5):.1f}, p99 {_ms(seen.unloaded_accepts, 0.99):.1f}")
        print(
            f"  accept -> filled ms: p50 {_ms(seen.unloaded, 0.5):.0f}, p99 {_ms(seen.unloaded, 0.99):.0f}, "
            f"min {min(seen.unloaded) * 1000:.0f}"
        )
        print(
            "  (can be less than the worker's run time: the task is queued before orders_api completes its\n"
            "   idempotency record and answers, so the worker starts while the 202 is still on its way)\n"
        )
    print(f"Then the load ({args.threads} client threads, as fast as the API answers):")
    _report_accepts(run, accepted, seen)
    _report_end_to_end(accepted, tap, seen)
    print(f"\nFinal order states (GET /orders, every page; includes the {len(seen.unloaded)} unloaded ones):")
    for status, n in seen.states.most_common():
        print(f"  {status:<16} {n}")
    print(f"  {'total':<16} {sum(seen.states.values())}")
    _report_endpoint(accepted, seen)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders to submit (default 1000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument(
        "--tenants", type=int, default=4, help="tenants, one paper account (= one FIFO message group) each (default 4)"
    )
    parser.add_argument(
        "--submit-seconds",
        type=float,
        default=120.0,
        help="stop starting new orders after this many seconds, 0 = never (default 120: with the "
        "drain after it, the run fits in 3 minutes on a 2-core machine)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=75.0,
        help="at most this many seconds of waiting for fills after the last accept (default 75)",
    )
    parser.add_argument(
        "--probe",
        type=int,
        default=20,
        help="orders sent one at a time first, each after the previous filled (default 20)",
    )
    parser.add_argument(
        "--moto",
        choices=("process", "in-process"),
        default="process",
        help="where moto's server runs: its own process (default, as `make dev`) or this one",
    )
    parser.add_argument(
        "--api-instances",
        type=int,
        default=DEFAULT_API_INSTANCES,
        help=f"instance processes for the API's functions, as `make dev` (default {DEFAULT_API_INSTANCES}; 0: "
        "in this process)",
    )
    parser.add_argument(
        "--keep-moto-leak",
        action="store_true",
        help="do not empty moto's instance tracker during the run (see benchmarks._trading)",
    )
    return parser.parse_args(argv)


def pipeline(args: argparse.Namespace, cloud: LocalCloud, started: float) -> tuple[Run, FillTap, Observed]:
    """Sign up, submit, wait for the fills, read the final states."""
    moto = MotoMeter.attach(cloud._moto) if cloud._moto is not None else None
    timer = FunctionTimer()
    timer.wrap(cloud.functions)
    api = Api(cloud.api_url)
    tap = FillTap(cloud.aws_endpoint, f"{cloud.stack_name}-domain-events")
    tenants = [sign_up(api, n) for n in range(args.tenants)]
    pollers = [p for p in cloud.pollers if p.function.logical_id == "TradeWorkerFunction"]
    args.pollers = len(pollers)
    fired_before = dict(cloud.clock.fired) if cloud.clock else {}
    setup_s = time.perf_counter() - started
    print(f"probing {args.probe} orders one at a time ...", file=sys.stderr, flush=True)
    unloaded_accepts, unloaded = probe_unloaded(api, tenants[0], tap, args.probe)
    tap_before, batches_before = tap.count(), sum(p.invocations for p in pollers)
    runs_before = {k: len(v) for k, v in timer.snapshot().items()}
    print(f"submitting up to {args.orders} orders ...", file=sys.stderr, flush=True)
    run = Run()
    submit(api, tenants, args.orders, args.threads, run, args.submit_seconds)
    print(f"accepted {len(run.accepted)}; waiting for fills ...", file=sys.stderr, flush=True)
    wait_start = time.monotonic()
    while tap.count() - tap_before < len(run.accepted) and time.monotonic() - wait_start < args.wait:
        time.sleep(0.2)
    time.sleep(1.5)  # room for a late duplicate delivery
    waited = time.monotonic() - wait_start
    tap.close()
    fired_now = cloud.clock.fired if cloud.clock else {}
    fired = {k: v - fired_before.get(k, 0) for k, v in fired_now.items() if v - fired_before.get(k, 0)}
    load_runs = {k: v[runs_before.get(k, 0) :] for k, v in timer.snapshot().items()}
    seen = Observed(
        final_states(api, tenants),
        sum(p.invocations for p in pollers) - batches_before,
        setup_s,
        waited,
        fired,
        load_runs,
        moto or MotoMeter.fetch(cloud.aws_endpoint),
        unloaded=unloaded,
        unloaded_accepts=unloaded_accepts,
        tracked=tracked_moto_instances() if cloud._moto is not None else 0,
    )
    return run, tap, seen


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    os.environ["PAPER_STARTING_BALANCES"] = STARTING_BALANCES  # read by the settings after start
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the handlers' INFO lines would swamp the output
    in_process = args.moto == "in-process"
    meter = () if in_process else ("benchmarks._trading:MotoMeter",)
    cloud = LocalCloud(
        port=0, quiet=True, speed=1, aws_process=not in_process, aws_wrap=meter, api_instances=args.api_instances
    )
    cloud.start()
    trim = MotoInstanceTrim()
    if in_process and not args.keep_moto_leak:
        trim.start()
    try:
        run, tap, seen = pipeline(args, cloud, started)
        seen.trims = trim.trims
        seen.moto_where = "same process" if in_process else "its own process"
        report(args, run, tap, seen)
        print(f"\n(total wall time {time.perf_counter() - started:.1f} s)")
    finally:
        if trim.is_alive():
            trim.stop()
        cloud.stop()


if __name__ == "__main__":
    main()
    # Skip interpreter teardown: freeing moto's state is no part of the pipeline, and with the
    # leak kept it takes longer than the run itself.
    sys.stdout.flush()
    os._exit(0)
