"""Time-ordered identifiers."""

from __future__ import annotations

import re
import time

import pytest

from shared.ids import new_id, new_ulid

CROCKFORD_LOWER = re.compile(r"[0-9abcdefghjkmnpqrstvwxyz]{26}")


def test_ulid_shape() -> None:
    for _ in range(50):
        ulid = new_ulid()
        assert CROCKFORD_LOWER.fullmatch(ulid), ulid
        # Crockford leaves out i, l, o and u.
        assert not set(ulid) & set("ilou")


def test_ulids_are_unique() -> None:
    assert len({new_ulid() for _ in range(1000)}) == 1000
    # Same millisecond: still unique thanks to the 80 random bits.
    assert len({new_ulid(now_ms=1_700_000_000_000) for _ in range(1000)}) == 1000


def test_time_prefix_depends_only_on_time() -> None:
    a = new_ulid(now_ms=1_700_000_000_000)
    b = new_ulid(now_ms=1_700_000_000_000)
    assert a[:10] == b[:10]
    assert new_ulid(now_ms=1_700_000_000_001)[:10] != a[:10]


@pytest.mark.parametrize(
    "times",
    [
        [0, 1, 2, 31, 32, 33, 1023, 1024],
        [1_700_000_000_000 + i for i in range(0, 5000, 37)],
        [1, 10, 100, 10**4, 10**8, 10**12, 2**47, 2**48 - 1],
    ],
    ids=["small", "same-second", "wide"],
)
def test_increasing_time_sorts_increasingly(times: list[int]) -> None:
    ids = [new_ulid(now_ms=ms) for ms in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # Sorting shuffled ids restores time order.
    assert sorted(reversed(ids)) == ids


def test_known_time_encoding() -> None:
    assert new_ulid(now_ms=0)[:10] == "0000000000"
    assert new_ulid(now_ms=31)[:10] == "000000000z"
    assert new_ulid(now_ms=32)[:10] == "0000000010"
    assert new_ulid(now_ms=2**48 - 1)[:10] == "7zzzzzzzzz"


def test_default_time_is_now() -> None:
    before = new_ulid(now_ms=int(time.time() * 1000) - 1)
    current = new_ulid()
    after = new_ulid(now_ms=int(time.time() * 1000) + 1000)
    assert before[:10] <= current[:10] <= after[:10]


@pytest.mark.parametrize("prefix", ["bot", "evt", "key", "ten", "usr"])
def test_new_id_prefix(prefix: str) -> None:
    value = new_id(prefix)
    head, _, tail = value.partition("_")
    assert head == prefix
    assert CROCKFORD_LOWER.fullmatch(tail)
    assert new_id(prefix) != value
