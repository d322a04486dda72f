"""What events-order adds, on the moto-backed test cloud (the template's tables and keys):

1. Per commit: `commit_with_events` (one GetItem of the aggregate's sequence counter, one more
   item in the TransactWriteItems) next to the floor of the same transaction without sequencing
   (the caller's nothing, the outbox row, the publish), measured in the same run; for one event,
   and for two events of one aggregate in one commit (still one counter read and write).
2. Per delivery: the signing secret, sealed at rest, opened for signing: a cache hit (every
   delivery after the first per environment and secret), a miss (a KMS Decrypt through the
   Encryption SDK, against moto), next to the signing itself (`sign_webhook`, 1 KiB body).

Absolute figures against moto are bound by its HTTP server; the ratios and the differences are
what carry over. Counts of AWS requests per commit are exact.

    .venv/bin/python -m benchmarks.event_ordering [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from benchmarks._support import STATS_HEADER, Stats, start_cloud, time_calls


def _order_event(tenant_id: str, order_id: str) -> Any:
    from tests.support.events import order_event

    return order_event(tenant_id, order_id=order_id)


def commits(runs: int) -> None:
    from pynamodb.transactions import TransactWrite

    from shared.events import models as outbox
    from shared.events.publisher import publish_recorded
    from shared.events.transactions import commit_with_events
    from shared.ids import new_id
    from shared.persistence import connection

    tenant, order = new_id("ten"), new_id("ord")

    def floor() -> None:
        event = _order_event(tenant, order)
        with TransactWrite(connection=connection()) as tx:
            tx.save(outbox.record_for(event), condition=outbox.EventRecord.event_id.does_not_exist())
        publish_recorded([event])

    def sequenced() -> None:
        commit_with_events(lambda _tx: None, [_order_event(tenant, order)])

    def sequenced_two() -> None:
        commit_with_events(lambda _tx: None, [_order_event(tenant, order), _order_event(tenant, order)])

    for call in (floor, sequenced, sequenced_two):  # warm-up: connections, first imports
        for _ in range(20):
            call()
    samples: dict[str, list[float]] = {"floor": [], "one": [], "two": []}
    for _ in range(runs):  # interleaved, so drift on a shared machine hits all three alike
        for name, call in (("floor", floor), ("one", sequenced), ("two", sequenced_two)):
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    base, one, two = (Stats.of(samples[name]) for name in ("floor", "one", "two"))
    print(STATS_HEADER)
    print(base.row("floor: outbox transaction + publish, 1 event"))
    print(one.row("commit_with_events, 1 event (sequenced)"))
    print(two.row("commit_with_events, 2 events of one order"))
    print(
        f"added per commit: {one.p50 - base.p50:.0f} µs p50, {one.minimum - base.minimum:.0f} µs min "
        f"({one.p50 / base.p50:.2f} x floor p50); AWS requests per commit: +1 GetItem, +1 transaction item"
    )


def secrets_per_delivery(runs: int) -> None:
    from consumer_kit.webhooks import generate_secret, sign_webhook
    from shared.webhooks import signing_secrets

    secret = generate_secret()
    sealed = signing_secrets.seal("ten_bench", "wh_bench", secret)
    body = b"x" * 1024

    def miss() -> None:
        signing_secrets.open_sealed.cache_clear()
        signing_secrets.open_sealed("ten_bench", "wh_bench", sealed)

    def hit() -> None:
        signing_secrets.open_sealed("ten_bench", "wh_bench", sealed)

    def sign() -> None:
        sign_webhook(secret, "evt_1", body, 1_800_000_000)

    signing = time_calls(sign, warmup=50, runs=runs * 5)
    cached = time_calls(hit, warmup=50, runs=runs * 5)
    decrypt = time_calls(miss, warmup=5, runs=max(20, runs // 4))
    print(STATS_HEADER)
    print(signing.row("floor: sign_webhook, 1 secret, 1 KiB body"))
    print(cached.row("open sealed secret, cache hit"))
    print(decrypt.row("open sealed secret, cache miss (KMS Decrypt)"))
    print(
        f"added per delivery: {cached.p50:.2f} µs p50 when cached ({cached.p50 / signing.p50:.3f} x signing); "
        f"{decrypt.p50 / 1000:.1f} ms once per secret per environment"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # no EMF lines between the table rows
    cloud = start_cloud()  # before anything from shared is imported
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    try:
        commits(args.runs)
        secrets_per_delivery(args.runs)
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
