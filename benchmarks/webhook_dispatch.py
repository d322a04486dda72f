"""Webhook delivery on the local cloud (moto's server, the template's queue, rule and pollers,
in this process), against local consumers on 127.0.0.1.

1. Dispatcher throughput: N events fanned out to 100 subscriptions, each delivery through the
   real `webhook_dispatcher` handler (SQS batch events of 10, records delivered concurrently),
   with 1 and with 4 invocations in flight; next to the floor of bare `deliver()` calls to the
   same consumer (no signing, no table reads or writes), measured in the same run.
2. Publish -> delivered latency (p50/p99): events recorded with `commit_with_events`, routed by
   the bus rule to the webhook-deliveries queue, fanned out and delivered by the local cloud's
   pollers, to 10 live subscriptions.
3. The same with one dead subscription added (a consumer that never answers: every attempt
   waits for the 10 s timeout): the live subscriptions' p50/p99 with and without it.

The local cloud runs every function in this one process on the machine's cores, so its capacity
is about a hundred deliveries per second (moto bound); the default publish rate keeps it well
below that. Near capacity (e.g. `--rate 5`) queueing dominates, and the dead subscriber's extra
work (deferrals, one 10 s probe per pause window holding a poller) shows up in the p99.

    .venv/bin/python -m benchmarks.webhook_dispatch [--events 10] [--latency-events 80] [--rate 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from localcloud.cloud import LocalCloud
from tests.support.webhook_consumer import HOLD, WebhookConsumer

SUBSCRIPTIONS = 100
LIVE_SUBSCRIPTIONS = 10
STEADY_AFTER_S = 12.0  # the dead endpoint's first attempt has timed out (10 s) and paused it


class TimedConsumer(WebhookConsumer):
    """Records when each (event id, path) arrived."""

    def __init__(self, default_status: int = 200) -> None:
        super().__init__(default_status)
        self.arrivals: dict[tuple[str, str], float] = {}

    def _record(self, received: Any) -> int:
        self.arrivals.setdefault((received.headers.get("webhook-id", ""), received.path), time.perf_counter())
        return super()._record(received)


def _subscribe(tenant_id: str, urls: list[str]) -> list[str]:
    from consumer_kit.webhooks import generate_secret
    from shared.clock import utc_now
    from shared.ids import new_id
    from shared.webhooks import subscriptions
    from shared.webhooks.signing_secrets import seal

    ids = []
    for url in urls:
        now = utc_now()
        subscription_id = new_id("wh")
        record = subscriptions.WebhookSubscriptionRecord(
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            url=url,
            event_types={"*"},
            secret_sealed=seal(tenant_id, subscription_id, generate_secret()),
            created_at=now,
            updated_at=now,
        )  # sealed at rest, as the API stores it: deliveries open it through the cache
        subscriptions.insert(record)
        ids.append(record.subscription_id)
    return ids


def _event(tenant_id: str, n: int) -> Any:
    from tests.support.events import bot_event

    return bot_event(tenant_id, bot_id=f"bot_{n}")


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {"Records": [{"messageId": str(i), "receiptHandle": "r", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench", "awsRegion": "us-east-1"}
                        for i, body in enumerate(bodies)]}  # fmt: skip


def throughput(events: int, in_flight: int) -> tuple[int, float]:
    """Deliveries per second through the handler, `in_flight` invocations at a time."""
    from functions.webhook_dispatcher.app import lambda_handler
    from localcloud.functions import FakeLambdaContext, ensure_event_loop
    from shared.ids import new_id
    from shared.webhooks.dispatcher import Dispatcher

    tenant = new_id("ten")
    with TimedConsumer() as consumer:
        _subscribe(tenant, [f"{consumer.url}/{i}" for i in range(SUBSCRIPTIONS)])
        tasks: list[str] = []
        fan_out = Dispatcher(send=lambda batch, _delay: tasks.extend(t.model_dump_json() for t in batch))
        for n in range(events):
            fan_out.fan_out(_event(tenant, n))
        batches = [tasks[i : i + 10] for i in range(0, len(tasks), 10)]

        def invoke(batch: list[str]) -> None:
            ensure_event_loop()
            result = lambda_handler(_sqs_event(batch), FakeLambdaContext("bench", 512, 30))  # type: ignore[arg-type]
            assert not result["batchItemFailures"], result

        started = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(invoke, batches))
        elapsed = time.perf_counter() - started
        assert len(consumer.received) == len(tasks), (len(consumer.received), len(tasks))
    return len(tasks), len(tasks) / elapsed


def floor_rate(calls: int) -> float:
    from shared.webhooks.delivery_http import deliver

    with WebhookConsumer() as consumer:
        started = time.perf_counter()
        for _ in range(calls):
            deliver(consumer.url, b"{}", {}, allow_loopback_http=True)
        return calls / (time.perf_counter() - started)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000


def latency(events: int, rate: float, dead: bool) -> tuple[float, float, int, float, float]:
    """p50/p99 (ms) publish -> delivered to the live subscriptions, how many were measured, and
    p50/p99 of the events published after the first timeout's verdict (steady state)."""
    from shared.events.transactions import commit_with_events
    from shared.ids import new_id

    tenant = new_id("ten")
    with TimedConsumer() as live, WebhookConsumer(default_status=HOLD) as dead_consumer:
        _subscribe(tenant, [f"{live.url}/{i}" for i in range(LIVE_SUBSCRIPTIONS)])
        if dead:
            _subscribe(tenant, [dead_consumer.url])
        published: dict[str, float] = {}
        for n in range(events):
            event = _event(tenant, n)
            published[event.id] = time.perf_counter()
            commit_with_events(lambda tx: None, [event])
            time.sleep(max(0.0, published[event.id] + 1 / rate - time.perf_counter()))  # the publish pace
        live.wait_for(events * LIVE_SUBSCRIPTIONS, timeout=120)
        first = min(published.values())
        samples = [at - published[event_id] for (event_id, _), at in live.arrivals.items() if event_id in published]
        steady = [at - published[event_id] for (event_id, _), at in live.arrivals.items()
                  if event_id in published and published[event_id] - first >= STEADY_AFTER_S]  # fmt: skip
    p50, p99 = _percentiles(samples)
    steady_p50, steady_p99 = _percentiles(steady) if steady else (float("nan"), float("nan"))
    return p50, p99, len(samples), steady_p50, steady_p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10, help="events fanned out to 100 subscriptions")
    parser.add_argument("--latency-events", type=int, default=80)
    parser.add_argument("--rate", type=float, default=2.0, help="events published per second (latency runs)")
    args = parser.parse_args()

    cloud = LocalCloud(port=0, quiet=True, stack_name="bench-webhooks")
    cloud.start()
    try:
        floor = floor_rate(300)
        print(f"floor: bare deliver() to a local consumer          {floor:8.0f} /s")
        for in_flight in (1, 4):
            n, rate = throughput(args.events, in_flight)
            print(
                f"dispatcher, {args.events} events x {SUBSCRIPTIONS} subscriptions = {n} deliveries, "
                f"{in_flight} invocation(s) in flight: {rate:7.0f} /s  ({rate / floor:.3f} x floor)"
            )
        print(
            f"publish -> delivered on the local cloud, {args.latency_events} events at {args.rate:g}/s "
            f"to {LIVE_SUBSCRIPTIONS} subscriptions:"
        )
        latency(10, args.rate, dead=False)  # warm-up: first imports and connections, not measured
        base = latency(args.latency_events, args.rate, dead=False)
        print(
            f"  all live:                 p50 {base[0]:8.1f} ms  p99 {base[1]:8.1f} ms  ({base[2]} deliveries)"
            f"  after {STEADY_AFTER_S:g} s: p50 {base[3]:8.1f} ms  p99 {base[4]:8.1f} ms"
        )
        with_dead = latency(args.latency_events, args.rate, dead=True)
        print(
            f"  plus one dead subscriber: p50 {with_dead[0]:8.1f} ms  p99 {with_dead[1]:8.1f} ms  "
            f"({with_dead[2]} deliveries)  after {STEADY_AFTER_S:g} s: p50 {with_dead[3]:8.1f} ms  "
            f"p99 {with_dead[4]:8.1f} ms"
        )
        print(
            f"  p99 ratio dead/live: {with_dead[1] / base[1]:.2f} overall, {with_dead[4] / base[4]:.2f} after "
            f"{STEADY_AFTER_S:g} s"
        )
        print(
            json.dumps(
                {
                    "floor_per_s": round(floor),
                    "events": args.events,
                    "latency_events": args.latency_events,
                    "p50_ms": round(base[0], 1),
                    "p99_ms": round(base[1], 1),
                    "dead_p50_ms": round(with_dead[0], 1),
                    "dead_p99_ms": round(with_dead[1], 1),
                    "steady_p99_ms": round(base[4], 1),
                    "dead_steady_p99_ms": round(with_dead[4], 1),
                }
            )
        )
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
