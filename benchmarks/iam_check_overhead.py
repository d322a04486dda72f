"""What the tests' IAM check (tests.support.iam_recorder) adds to each AWS call a function makes.

The integration tier records every call made by a handler the tests call, so its cost is paid on
every DynamoDB request of the suite. This measures, against the in-process moto server the tests
use, a GetItem and a two-item TransactWriteItems through a client the recorder watches (the call
attributed to a function by the stack walk, as in the integration tier) and through one it does
not (the floor), in interleaved blocks so both see the same machine load. Figures: per call, µs
(median of the blocks' means), and the watched/unwatched ratio.

    .venv/bin/python -m benchmarks.iam_check_overhead [--calls 200] [--blocks 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks._support import start_cloud
from tests.support.iam_policy import Arns, FunctionPolicies
from tests.support.iam_recorder import FunctionsOnStack, IamRecorder, install


def _client() -> Any:
    from botocore.session import get_session

    return get_session().create_client("dynamodb", region_name="us-east-1")


def _block_mean_us(call: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="calls per block")
    parser.add_argument("--blocks", type=int, default=7, help="interleaved blocks per figure")
    args = parser.parse_args()

    cloud = start_cloud()
    table = cloud.resolver.ref("OrdersTable")
    other = cloud.resolver.ref("PositionsTable")
    floor_client = _client()  # made before the recorder is installed: not watched
    on_stack = FunctionsOnStack(cloud.functions)
    # The stack walk finds no handler here (the calls come from this script), so it walks the whole
    # stack every call, the integration tier's worst case, before the calls are charged to a function.
    recorder = IamRecorder(Arns.of(cloud.resolver), fallback=lambda: on_stack() or "TradeWorkerFunction")
    install(recorder)
    watched_client = _client()
    key = {"tenant_id": {"S": "t-bench"}, "order_id": {"S": "o-1"}}

    def get(client: Any) -> Callable[[], Any]:
        return lambda: client.get_item(TableName=table, Key=key)

    def transact(client: Any) -> Callable[[], Any]:
        items = [
            {
                "Update": {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": other,
                    "Key": {"tenant_id": {"S": "t"}, "position_key": {"S": "p"}},
                    "ConditionExpression": "attribute_not_exists(tenant_id)",
                }
            },
        ]
        return lambda: client.transact_write_items(TransactItems=items)

    print(f"{'per call (µs), median of block means':<44} {'floor':>9} {'watched':>9} {'ratio':>7}")
    for label, make in (("GetItem", get), ("TransactWriteItems (2 items)", transact)):
        floor, watched = [], []
        for _ in range(args.blocks):
            floor.append(_block_mean_us(make(floor_client), args.calls))
            watched.append(_block_mean_us(make(watched_client), args.calls))
        f, w = statistics.median(floor), statistics.median(watched)
        print(f"{label:<44} {f:>9.1f} {w:>9.1f} {w / f:>7.3f}")
    denied = recorder.denied(FunctionPolicies.from_template(cloud.resolver))
    print(f"calls recorded: {recorder.calls}; distinct permissions: {len(recorder.needed)}; denied: {len(denied)}")
    cloud.stop()


if __name__ == "__main__":
    main()
