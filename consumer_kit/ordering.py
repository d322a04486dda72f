"""Per-aggregate ordering for consumers: detect stale, duplicate and out-of-order events.

Every event names its aggregate (`{"type": "order", "id": "ord_..."}`) and carries `sequence`,
its position among that aggregate's events (1, 2, 3, ... in commit order, no gaps, no repeats).
Deliveries arrive in any order and at least once, so a consumer keeps the highest sequence it
applied per aggregate and compares:

- `NEXT`: exactly one above: apply it.
- `AHEAD`: more than one above: earlier events are still on their way (`missing` lists them).
  Apply it if it carries the whole state you need (order events do), or hold it until the gap
  fills (or replay the missing events).
- `STALE`: at or below: a duplicate or an older state than the one applied; drop it.
- `UNSEQUENCED`: no aggregate or sequence (`webhook.ping`, events older than sequences): apply
  it on its own merits.

`observe` checks and, unless stale, records in one step. `last_seen` can be any mutable mapping,
so a consumer with several processes backs it with its own store (a dict is the default).
Standalone: imports nothing of the platform and nothing outside the standard library.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

type AggregateKey = tuple[str, str]  # (aggregate type, aggregate id)


class SequenceVerdict(StrEnum):
    NEXT = "next"
    AHEAD = "ahead"
    STALE = "stale"
    UNSEQUENCED = "unsequenced"


@dataclass(frozen=True)
class SequenceCheck:
    verdict: SequenceVerdict
    aggregate: AggregateKey | None
    sequence: int | None
    last_seen: int  # the highest sequence recorded for the aggregate before this event (0: none)

    @property
    def missing(self) -> range:
        """The sequences between the last one seen and this one (empty unless AHEAD)."""
        if self.verdict is not SequenceVerdict.AHEAD or self.sequence is None:
            return range(0)
        return range(self.last_seen + 1, self.sequence)

    @property
    def stale(self) -> bool:
        return self.verdict is SequenceVerdict.STALE


def sequence_of(event: Mapping[str, Any]) -> tuple[AggregateKey, int] | None:
    """An envelope's (aggregate key, sequence), or None when it has none (or a malformed one)."""
    aggregate = event.get("aggregate")
    sequence = event.get("sequence")
    if not isinstance(aggregate, Mapping) or isinstance(sequence, bool) or not isinstance(sequence, int):
        return None
    kind, ident = aggregate.get("type"), aggregate.get("id")
    if not isinstance(kind, str) or not isinstance(ident, str) or sequence < 1:
        return None
    return (kind, ident), sequence


class AggregateSequenceTracker:
    """The highest sequence applied per aggregate, and the verdict on each new event."""

    def __init__(self, last_seen: MutableMapping[AggregateKey, int] | None = None) -> None:
        self.last_seen: MutableMapping[AggregateKey, int] = {} if last_seen is None else last_seen
        self._lock = threading.Lock()

    def check(self, event: Mapping[str, Any]) -> SequenceCheck:
        """The verdict on an event (a parsed envelope), without recording it."""
        found = sequence_of(event)
        if found is None:
            return SequenceCheck(SequenceVerdict.UNSEQUENCED, None, None, 0)
        key, sequence = found
        last = self.last_seen.get(key, 0)
        if sequence <= last:
            verdict = SequenceVerdict.STALE
        elif sequence == last + 1:
            verdict = SequenceVerdict.NEXT
        else:
            verdict = SequenceVerdict.AHEAD
        return SequenceCheck(verdict, key, sequence, last)

    def record(self, event: Mapping[str, Any]) -> None:
        """Remember that an event was applied (never moves an aggregate's mark backwards)."""
        found = sequence_of(event)
        if found is None:
            return
        key, sequence = found
        with self._lock:
            if sequence > self.last_seen.get(key, 0):
                self.last_seen[key] = sequence

    def observe(self, event: Mapping[str, Any]) -> SequenceCheck:
        """Check and, unless stale, record, atomically: two threads handed the same event cannot
        both see it as new."""
        with self._lock:
            result = self.check(event)
            if result.aggregate is not None and result.sequence is not None and not result.stale:
                self.last_seen[result.aggregate] = result.sequence
            return result
