"""Paging through an exchange's candle history: every bar of the range once, nothing outside it,
nothing still open, and an end to the loop whatever the exchange answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.exchange.protocol import Candle
from shared.market_data import history
from shared.market_data.history import fetch_history

MINUTE = 60_000


def bar(open_ms: int) -> Candle:
    price = Decimal(100 + open_ms // MINUTE)
    return Candle(open_ms, price, price, price, price, Decimal(1))


class Exchange:
    """Serves bars at the given open times, `page` at a time from `since` on, recording the calls."""

    def __init__(self, opens: list[int], page: int) -> None:
        self.opens = opens
        self.page = page
        self.calls: list[int] = []

    def __call__(self, since: int, limit: int) -> list[Candle]:
        self.calls.append(since)
        return [bar(t) for t in self.opens if t >= since][: min(limit, self.page)]


def test_pages_are_chained_from_the_newest_bar_and_cover_the_range_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "PAGE_BARS", 3)
    exchange = Exchange([t * MINUTE for t in range(20)], page=3)
    got = fetch_history(exchange, "1m", 2 * MINUTE, 12 * MINUTE, now_ms=100 * MINUTE)
    assert [c.timestamp_ms // MINUTE for c in got] == list(range(2, 12))
    assert [t // MINUTE for t in exchange.calls] == [2, 5, 8, 11]  # the last page is cut at the range's end


def test_bars_still_open_or_outside_the_range_are_left_out() -> None:
    exchange = Exchange([t * MINUTE for t in range(20)], page=1000)
    now = 10 * MINUTE + 30_000  # bar 10 is still open
    got = fetch_history(exchange, "1m", 5 * MINUTE, 15 * MINUTE, now_ms=now)
    assert [c.timestamp_ms // MINUTE for c in got] == [5, 6, 7, 8, 9]
    assert fetch_history(exchange, "1m", 50 * MINUTE, 60 * MINUTE, now_ms=now) == []  # the future: no call needed


def test_a_gap_stays_a_gap_and_an_exchange_that_serves_less_than_asked_is_paged_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history, "PAGE_BARS", 4)
    opens = [t * MINUTE for t in (*range(0, 5), *range(9, 14))]  # bars 5..8 were never traded
    exchange = Exchange(opens, page=2)  # serves 2 where 4 were asked
    got = fetch_history(exchange, "1m", 0, 14 * MINUTE, now_ms=100 * MINUTE)
    assert [c.timestamp_ms // MINUTE for c in got] == [0, 1, 2, 3, 4, 9, 10, 11, 12, 13]


def test_a_page_without_progress_or_an_empty_one_ends_the_loop() -> None:
    stuck_calls: list[int] = []

    def stuck(since: int, limit: int) -> list[Candle]:  # always the same old bars (ignores `since`)
        stuck_calls.append(since)
        return [bar(0), bar(MINUTE)]

    assert [c.timestamp_ms for c in fetch_history(stuck, "1m", 0, 10 * MINUTE, now_ms=100 * MINUTE)] == [0, MINUTE]
    assert stuck_calls == [0, 2 * MINUTE]  # the second page had nothing at or after `since`: done
    empty = Exchange([], page=10)
    assert fetch_history(empty, "1m", 0, 10 * MINUTE, now_ms=100 * MINUTE) == []
    assert empty.calls == [0]


def test_overlapping_pages_are_merged() -> None:
    def overlapping(since: int, limit: int) -> list[Candle]:  # each page repeats the previous bar
        first = max(since - MINUTE, 0)
        return [bar(t) for t in range(first, min(first + 3 * MINUTE, 9 * MINUTE), MINUTE)]

    got = fetch_history(overlapping, "1m", 0, 9 * MINUTE, now_ms=100 * MINUTE)
    assert [c.timestamp_ms // MINUTE for c in got] == list(range(9))
