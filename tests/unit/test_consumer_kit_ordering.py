"""consumer_kit.ordering: stale, duplicate, next and ahead events per aggregate."""

from __future__ import annotations

import threading
from typing import Any

from consumer_kit.ordering import AggregateSequenceTracker, SequenceVerdict, sequence_of


def envelope(sequence: int | None, aggregate_id: str = "ord_1", kind: str = "order") -> dict[str, Any]:
    return {
        "id": f"evt_{sequence}",
        "type": "order.filled",
        "aggregate": {"type": kind, "id": aggregate_id},
        "sequence": sequence,
    }


def test_in_order_events_are_next_and_repeats_are_stale() -> None:
    tracker = AggregateSequenceTracker()
    assert [tracker.observe(envelope(n)).verdict for n in (1, 2, 2, 1, 3)] == [
        SequenceVerdict.NEXT,
        SequenceVerdict.NEXT,
        SequenceVerdict.STALE,
        SequenceVerdict.STALE,
        SequenceVerdict.NEXT,
    ]
    assert tracker.last_seen == {("order", "ord_1"): 3}


def test_a_gap_is_reported_with_what_is_missing_and_the_late_ones_are_then_stale() -> None:
    tracker = AggregateSequenceTracker()
    tracker.observe(envelope(1))
    ahead = tracker.observe(envelope(4))
    assert ahead.verdict is SequenceVerdict.AHEAD and list(ahead.missing) == [2, 3]
    late = tracker.observe(envelope(2))  # an older state than the one applied
    assert late.stale and list(late.missing) == []


def test_aggregates_are_independent() -> None:
    tracker = AggregateSequenceTracker()
    tracker.observe(envelope(5, "ord_1"))
    assert tracker.check(envelope(1, "ord_2")).verdict is SequenceVerdict.NEXT
    assert tracker.check(envelope(1, "ord_1", kind="bot")).verdict is SequenceVerdict.NEXT


def test_check_does_not_record_and_record_never_moves_back() -> None:
    tracker = AggregateSequenceTracker()
    assert tracker.check(envelope(1)).verdict is SequenceVerdict.NEXT
    assert tracker.check(envelope(1)).verdict is SequenceVerdict.NEXT
    tracker.record(envelope(3))
    tracker.record(envelope(2))
    tracker.record({"type": "webhook.ping"})
    assert tracker.last_seen == {("order", "ord_1"): 3}


def test_unsequenced_and_malformed_envelopes_are_left_to_the_caller() -> None:
    tracker = AggregateSequenceTracker()
    for odd in (
        {"type": "webhook.ping", "aggregate": {"type": "webhook_subscription", "id": "wh_1"}, "sequence": None},
        {"type": "bot.created"},
        envelope(0),
        {**envelope(1), "sequence": True},
        {**envelope(1), "aggregate": {"type": "order"}},
        {**envelope(1), "aggregate": "ord_1"},
    ):
        assert sequence_of(odd) is None
        assert tracker.observe(odd).verdict is SequenceVerdict.UNSEQUENCED
    assert tracker.last_seen == {}


def test_a_backing_store_is_used_as_given() -> None:
    store: dict[tuple[str, str], int] = {("order", "ord_1"): 7}
    tracker = AggregateSequenceTracker(store)
    assert tracker.observe(envelope(7)).stale
    tracker.observe(envelope(8))
    assert store == {("order", "ord_1"): 8}


def test_the_same_event_seen_by_two_threads_is_new_to_only_one() -> None:
    tracker = AggregateSequenceTracker()
    barrier = threading.Barrier(8, timeout=10)
    verdicts: list[SequenceVerdict] = []
    lock = threading.Lock()

    def handle() -> None:
        barrier.wait()
        verdict = tracker.observe(envelope(1)).verdict
        with lock:
            verdicts.append(verdict)

    threads = [threading.Thread(target=handle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == sorted([SequenceVerdict.NEXT] + [SequenceVerdict.STALE] * 7)
