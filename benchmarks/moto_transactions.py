"""TransactWriteItems latency on moto's server against table size, moto's own implementation
and the local cloud's (localcloud.moto_transactions), in the same run.

moto's own deep-copies every table a transaction touches, so its latency grows with the table;
the local cloud's snapshots only the items it writes. For each implementation and table size
(0 / 500 / 2,000 rows of order-shaped items) it times, one call at a time over HTTP:

* the floor: a conditional PutItem on the same table (one item, no transaction);
* a transaction shaped like the product's (`commit_with_events`): a conditional Put of a new
  order row, an Update of a counter row and a Put of an event row.

Then a few threads send transactions at once at 500 rows, counting answers that failed inside
moto (HTTP 500, e.g. "dictionary changed size during iteration").

    .venv/bin/python -m benchmarks.moto_transactions [--runs 40] [--sizes 0,500,2000]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import logging
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud import moto_transactions
from localcloud.cloud import start_aws_endpoint

IMPLEMENTATIONS = ("moto's own", "local cloud's")
_ids = itertools.count()


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples_s: list[float]) -> Latency:
        ordered = sorted(samples_s)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered) * 1e3, p99 * 1e3)


def _order_item(tenant: str, n: int) -> dict[str, Any]:
    """About the shape and size of an Orders row."""
    return {
        "tenant_id": {"S": tenant},
        "sk": {"S": f"ORDER#{n:08d}"},
        "bot_id": {"S": "bot-" + secrets.token_hex(8)},
        "client_order_id": {"S": secrets.token_hex(16)},
        "symbol": {"S": "BTC/USDT"},
        "side": {"S": "buy"},
        "type": {"S": "market"},
        "amount": {"N": "0.0001"},
        "status": {"S": "FILLED"},
        "filled": {"N": "0.0001"},
        "average_price": {"N": "65000.5"},
        "fee": {"N": "0.0065"},
        "created_at": {"S": "2025-01-01T00:00:00Z"},
        "updated_at": {"S": "2025-01-01T00:00:01Z"},
        "version": {"N": "3"},
    }


def _create_table(dynamodb: Any, rows: int) -> str:
    name = f"bench-tx-{secrets.token_hex(4)}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, rows, 25):
        batch = [
            {"PutRequest": {"Item": _order_item(f"tenant-{n % 50}", n)}} for n in range(start, min(rows, start + 25))
        ]
        dynamodb.batch_write_item(RequestItems={name: batch})
    dynamodb.put_item(TableName=name, Item={"tenant_id": {"S": "bench"}, "sk": {"S": "COUNTER"}, "n": {"N": "0"}})
    return name


def _transaction(dynamodb: Any, table: str) -> None:
    n = next(_ids)
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": _order_item("bench", 10_000_000 + n),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": {"tenant_id": {"S": "bench"}, "sk": {"S": "COUNTER"}},
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        "tenant_id": {"S": "bench"},
                        "sk": {"S": f"EVENT#{n:08d}"},
                        "type": {"S": "order.filled"},
                        "data": {"S": "{}"},
                    },
                }
            },
        ]
    )


def _put(dynamodb: Any, table: str) -> None:
    dynamodb.put_item(
        TableName=table,
        Item=_order_item("bench", 20_000_000 + next(_ids)),
        ConditionExpression="attribute_not_exists(sk)",
    )


def _time(call: Callable[[], None], runs: int, warmup: int = 3) -> Latency:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return Latency.of(samples)


def _concurrent(dynamodb: Any, table: str, threads: int, each: int) -> Counter[str]:
    """`threads` clients released together, `each` transactions apiece: answers by kind."""
    answers: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def client() -> None:
        barrier.wait()
        for _ in range(each):
            try:
                _transaction(dynamodb, table)
                outcome = "ok"
            except ClientError as error:
                status, code = error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
                outcome = f"HTTP {status}" if str(status) == code else f"HTTP {status} {code}"
            with lock:
                answers[outcome] += 1

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers


def _use(implementation: str) -> None:
    if implementation == IMPLEMENTATIONS[0]:
        moto_transactions.uninstall()
    else:
        moto_transactions.install()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=40, help="timed calls per measurement (default 40)")
    parser.add_argument("--sizes", default="0,500,2000", help="table sizes in rows (default 0,500,2000)")
    parser.add_argument("--threads", type=int, default=4, help="clients in the concurrent part (default 4)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    from moto.core.model_instances import reset_model_data

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's crashes are counted, not printed
    server, endpoint = start_aws_endpoint()
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    results: dict[tuple[str, int], tuple[Latency, Latency]] = {}
    concurrent: dict[str, Counter[str]] = {}
    try:
        for implementation in IMPLEMENTATIONS:
            _use(implementation)
            for rows in sizes:
                table = _create_table(dynamodb, rows)
                results[implementation, rows] = (
                    _time(functools.partial(_put, dynamodb, table), args.runs),
                    _time(functools.partial(_transaction, dynamodb, table), args.runs),
                )
                dynamodb.delete_table(TableName=table)
                reset_model_data()  # moto's instance tracker keeps every copy it made
            table = _create_table(dynamodb, 500)
            concurrent[implementation] = _concurrent(dynamodb, table, args.threads, max(1, args.runs // args.threads))
            dynamodb.delete_table(TableName=table)
            reset_model_data()
    finally:
        server.stop()
    _report(args, sizes, results, concurrent)


def _report(
    args: argparse.Namespace,
    sizes: list[int],
    results: dict[tuple[str, int], tuple[Latency, Latency]],
    concurrent: dict[str, Counter[str]],
) -> None:
    print(
        f"\nTransactWriteItems (Put order + Update counter + Put event) on moto's server, one call at a time, "
        f"{args.runs} timed calls each"
    )
    print("floor = a conditional PutItem on the same table, measured in the same run\n")
    print(
        f"{'implementation':<15} {'rows':>6} {'tx p50 ms':>10} {'tx p99 ms':>10} {'floor p50':>10} "
        f"{'tx/floor':>9} {'p50 vs 0 rows':>14}"
    )
    for implementation in IMPLEMENTATIONS:
        base = results[implementation, sizes[0]][1].p50_ms
        for rows in sizes:
            floor, tx = results[implementation, rows]
            print(
                f"{implementation:<15} {rows:>6} {tx.p50_ms:>10.1f} {tx.p99_ms:>10.1f} {floor.p50_ms:>10.1f} "
                f"{tx.p50_ms / floor.p50_ms:>8.1f}x {tx.p50_ms / base:>13.2f}x"
            )
    largest = sizes[-1]
    own, ours = results[IMPLEMENTATIONS[0], largest][1], results[IMPLEMENTATIONS[1], largest][1]
    print(
        f"\nat {largest} rows the local cloud's transaction is {own.p50_ms / ours.p50_ms:.1f}x faster at p50, "
        f"{own.p99_ms / ours.p99_ms:.1f}x at p99"
    )
    print(f"\n{args.threads} threads sending transactions at once on a 500-row table (answers by kind):")
    for implementation in IMPLEMENTATIONS:
        print(f"  {implementation:<15} {dict(concurrent[implementation])}")


if __name__ == "__main__":
    main()
