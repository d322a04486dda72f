"""Scheduler fan-out: one bot_scheduler run over N due bots on M markets, against moto.

Counts every request the run makes, as moto's server saw it (X-Amz-Target), and the market
fetches (each a call to an exchange in production). Goals from issue 8 for 10,000 bots on 50
markets: SendMessageBatch floor N/10 = 1,000; at most 1,100 SQS calls; at most 50 fetches.

Wall time is printed next to a floor measured in the same run: N/10 bare SendMessageBatch calls
to a FIFO queue of its own (what sending the ticks costs with no table work at all). The run's
DynamoDB work (a few Queries, M candle rows, one conditional UpdateItem per bot) comes on top.

    .venv/bin/python -m benchmarks.bot_scheduler_fanout [--bots 10000] [--markets 50]
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from benchmarks._support import start_cloud
from benchmarks.dynamodb_requests import ServerTally

SQS_OPERATIONS = frozenset({"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessageBatch"})


def _write_bots(count: int, markets: list[str], now_ms: int) -> None:
    from shared.bots.models import BotRecord
    from shared.clock import utc_now

    strategy = '{"type":"sma_cross","params":{"fast":2,"slow":5,"timeframe":"1m"}}'
    with BotRecord.batch_write() as batch:
        for i in range(count):
            record = BotRecord(
                tenant_id=f"ten_bench{i % 100:04d}",
                bot_id=f"bot_{i:026d}",
                name="bench",
                exchange_account_id="paper",
                symbol="SOL/USDT",
                strategy_type="sma_cross",
                strategy_json=strategy,
                risk_json="{}",
                status="running",
                created_at=utc_now(),
                updated_at=utc_now(),
                version=1,
            )
            record.schedule(markets[i % len(markets)], now_ms - 1000)
            batch.save(record)


def _floor_seconds(batches: int) -> float:
    """`batches` bare SendMessageBatch calls of ten to a FIFO queue of their own."""
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.create_queue(
        QueueName=f"floor-{secrets.token_hex(4)}.fifo",
        Attributes={
            "FifoQueue": "true",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
    )["QueueUrl"]
    body = json.dumps({"tenant_id": "ten_x", "bot_id": "bot_" + "0" * 26, "market": "x|A/USDT|1m", "close_ms": 0})
    start = time.perf_counter()
    for b in range(batches):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": body, "MessageGroupId": f"g{b}-{i}", "MessageDeduplicationId": f"{b}-{i}"}
                for i in range(10)
            ],
        )
    elapsed = time.perf_counter() - start
    sqs.delete_queue(QueueUrl=url)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=10_000)
    parser.add_argument("--markets", type=int, default=50)
    args = parser.parse_args()

    cloud = start_cloud()
    from shared.bots.models import BotRecord
    from shared.bots.schedule import run_scheduler

    # moto rescans and re-sorts the whole table for every page of a GSI Query and serializes each
    # item slowly (~4 ms): a 500-row page of 10,000 bots takes longer than the 5 s read timeout
    # the code uses on AWS. The benchmark waits for it instead (the request counts are the same).
    BotRecord.Meta.read_timeout_seconds = 120
    from shared.exchange.protocol import Candle

    fetches: Counter[str] = Counter()

    def fetch(market: Any, bars: int, now_ms: int) -> list[Candle]:
        fetches[str(market)] += 1
        span = market.span_ms
        current = now_ms // span * span
        one = Decimal(10)
        return [Candle(t, one, one, one, one, one) for t in range(current - (bars - 1) * span, current + 1, span)]

    now = int(time.time() * 1000) // 60_000 * 60_000 + 5_000
    markets = [f"bench|M{i:03d}/USDT|1m" for i in range(args.markets)]
    print(f"writing {args.bots} due bots on {args.markets} markets ...", flush=True)
    _write_bots(args.bots, markets, now)

    wsgi = cloud.server._server
    if wsgi is None:
        raise SystemExit("moto server is not running")
    tally = ServerTally(wsgi.app)
    wsgi.app = tally

    start = time.perf_counter()
    report = run_scheduler(now, fetch=fetch)
    wall = time.perf_counter() - start
    first = Counter(tally.targets)

    tally.targets.clear()
    second = run_scheduler(now + 20_000, fetch=fetch)  # the same minute: nothing new
    again = Counter(tally.targets)

    floor_batches = -(-args.bots // 10)
    floor = _floor_seconds(floor_batches)

    sqs = {op: n for op, n in first.items() if op in SQS_OPERATIONS}
    dynamodb = {op: n for op, n in first.items() if op not in SQS_OPERATIONS}
    print(
        f"\nscheduler run: {report.due} due, {report.enqueued} enqueued, {report.advanced} advanced, "
        f"{report.send_failures} send failures"
    )
    print(
        f"  SQS calls        {sum(sqs.values()):>7}  {sqs}   (floor {floor_batches} SendMessageBatch, "
        f"ratio {sum(sqs.values()) / floor_batches:.3f}; goal <= {floor_batches * 11 // 10})"
    )
    print(f"  DynamoDB calls   {sum(dynamodb.values()):>7}  {dynamodb}")
    print(f"  market fetches   {sum(fetches.values()):>7}  (goal <= {args.markets})")
    print(
        f"  wall time        {wall:>7.2f} s  ({wall / max(report.due, 1) * 1e6:.0f} µs per bot); "
        f"floor {floor:.2f} s for {floor_batches} bare SendMessageBatch calls: ratio {wall / floor:.2f}"
    )
    print(
        f"second run in the same minute: {second.due} due, {second.enqueued} enqueued, "
        f"calls {dict(again)}, fetches total {sum(fetches.values())}"
    )
    cloud.stop()


if __name__ == "__main__":
    main()
