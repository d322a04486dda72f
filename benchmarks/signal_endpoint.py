"""Signal endpoint latency: request to 202, through signals_api's real `lambda_handler`, in-process,
against moto's in-process server (the local cloud's AWS endpoint).

1,000 TradingView-style text alerts spread over 50 running signal bots (20 each, inside the
per-bot rate limit), each a distinct alert. Every call authenticates (GetItem secret + bot),
counts the rate window (UpdateItem), records the signal with its dedup keys
(TransactWriteItems) and queues the task (SendMessage). The queue is emptied (untimed) every 10
signals, as the local cloud's signal worker poller keeps it: moto's FIFO SendMessage slows down
linearly with queue depth, which SQS does not. 20 untimed warm-up signals come first. Also timed:
a duplicate (answered 200) and a refusal (wrong symbol, 422).

Floor, measured in the same run: `GET /v1/bots/{id}` through bots_api (one GetItem through the
same framework stack), so the ratio says how many "simple reads" a signal costs. moto's latency
is not DynamoDB's: absolute figures are client overhead plus moto, on this machine.

    .venv/bin/python -m benchmarks.signal_endpoint [--signals 1000] [--bots 50]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from benchmarks._support import STATS_HEADER, Stats, start_cloud, time_calls

GOAL_P99_MS = 300.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--signals", type=int, default=1000)
    parser.add_argument("--bots", type=int, default=50)
    args = parser.parse_args(argv)
    # The repeated duplicate and refused calls below exceed the per-bot rate on purpose; the
    # per-signal INFO log lines would drown the table.
    os.environ.update({"SIGNAL_RATE_LIMIT": "1000000", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    cloud = start_cloud()  # before anything from shared/functions is imported
    try:
        run(args.signals, args.bots)
    finally:
        cloud.stop()


def consume(queue_url: str) -> None:
    """Take the queued signal tasks off the queue, as the local cloud's signal worker poller does:
    moto's FIFO SendMessage slows down with queue depth (O(n) per send), which SQS does not."""
    import boto3

    sqs = boto3.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )


def run(count: int, bot_count: int) -> None:
    from functions.auth_api.app import lambda_handler as auth_handler
    from functions.bots_api.app import lambda_handler as bots_handler
    from functions.signals_api.app import lambda_handler as signals_handler
    from localcloud.functions import FakeLambdaContext
    from tests.support.api import LambdaApi, build_event
    from tests.support.signals import create_signal_bot
    from tests.support.tenants import new_tenant

    tenant, _ = new_tenant(auth_handler)
    bots_api = LambdaApi(bots_handler, tenant)
    signals_api = LambdaApi(signals_handler)
    bots = [create_signal_bot(bots_api, signals_api) for _ in range(bot_count)]
    context: Any = FakeLambdaContext("signals-api", 512, 5)
    from shared.config import get_settings

    queue_url = get_settings().signal_tasks_queue_url

    def event_for(bot: Any, text: str) -> dict[str, Any]:
        return build_event("POST", f"/signals/{bot.bot_id}", raw_body=text, headers={"Content-Type": "text/plain"})

    # Distinct alerts: the bar time differs, so neither dedup rule matches.
    base = int(time.time()) - 60
    events = [
        event_for(
            bots[i % bot_count],
            f"SECRET={bots[i % bot_count].secret}\nSYMBOL=BINANCE:BTCUSDT\n"
            f"SIGNAL=BUY\nVOLUME=0.001\nTIME={base * 1000 + i}",
        )
        for i in range(count + 20)
    ]
    samples: list[float] = []
    statuses: dict[int, int] = {}
    for event in events[:20]:  # warm-up: first calls build clients and caches (not a cold start)
        signals_handler(event, context)
    events = events[20:]
    for i, event in enumerate(events):
        start = time.perf_counter()
        reply = signals_handler(event, context)
        samples.append(time.perf_counter() - start)
        statuses[reply["statusCode"]] = statuses.get(reply["statusCode"], 0) + 1
        if i % 10 == 9:
            consume(queue_url)  # untimed
    if statuses != {202: count}:
        raise SystemExit(f"expected {count} x 202, got {statuses}")
    accepted = Stats.of(samples)

    duplicate_event = events[-1]
    duplicate = time_calls(lambda: signals_handler(duplicate_event, context), warmup=2, runs=100)
    refused_event = event_for(bots[0], f"SECRET={bots[0].secret}\nSYMBOL=ETHUSDT\nSIGNAL=BUY")
    refused = time_calls(lambda: signals_handler(refused_event, context), warmup=2, runs=100)
    read_event = build_event("GET", f"/bots/{bots[0].bot_id}", caller=tenant)
    floor = time_calls(lambda: bots_handler(read_event, context), warmup=5, runs=200)
    check = json.loads(signals_handler(duplicate_event, context)["body"])
    assert check["status"] == "duplicate"

    print(
        f"signal endpoint, in-process handler time (request -> answer), moto endpoint; "
        f"{count} signals over {bot_count} bots"
    )
    print(STATS_HEADER)
    print(floor.row("floor: GET /bots/{id} (bots_api, one GetItem)"))
    print(accepted.row("POST /signals/{bot_id} -> 202 (accepted, queued)"))
    print(duplicate.row("POST /signals/{bot_id} -> 200 (duplicate)"))
    print(refused.row("POST /signals/{bot_id} -> 422 (symbol mismatch, recorded)"))
    print()
    print(
        f"accepted p50 {accepted.p50 / 1000:.1f} ms, p99 {accepted.p99 / 1000:.1f} ms "
        f"(goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if accepted.p99 / 1000 <= GOAL_P99_MS else 'NOT met'}); "
        f"{accepted.p50 / floor.p50:.1f}x the floor's p50"
    )


if __name__ == "__main__":
    main()
