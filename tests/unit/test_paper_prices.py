"""The paper exchange's price sources."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from shared.exchange.prices import CsvReplayPrices, SyntheticPrices, price_source_from_setting

BASE = {"BTC/USDT": Decimal("65000"), "ETH/USDT": Decimal("3000")}


def test_synthetic_prices_are_deterministic_and_move() -> None:
    a, b = SyntheticPrices(BASE, "seed-1"), SyntheticPrices(BASE, "seed-1")
    times = [1_700_000_000_000 + i * 60_000 for i in range(120)]
    series = [a.price("BTC/USDT", t) for t in times]
    assert series == [b.price("BTC/USDT", t) for t in times]
    assert len(set(series)) > 100  # it is a market, not a constant
    assert all(Decimal("55000") < p < Decimal("75000") for p in series)  # around the base price
    assert SyntheticPrices(BASE, "seed-2").price("BTC/USDT", times[0]) != series[0]
    with pytest.raises(KeyError):
        a.price("NOPE/USDT", times[0])


def test_csv_replay_uses_the_last_close_and_wraps_around(tmp_path: Path) -> None:
    (tmp_path / "BTC_USDT.csv").write_text(
        "timestamp_ms,open,high,low,close\n1000,1,1,1,10\n2000,1,1,1,20\n3000,1,1,1,30\n"
    )
    replay = CsvReplayPrices(tmp_path)
    assert replay.price("BTC/USDT", 1000) == Decimal("10")
    assert replay.price("BTC/USDT", 2500) == Decimal("20")
    assert replay.price("BTC/USDT", 3999) == Decimal("30")
    assert replay.price("BTC/USDT", 4000) == Decimal("10")  # wraps after the last candle


def test_setting_picks_the_source(tmp_path: Path) -> None:
    assert isinstance(price_source_from_setting("synthetic", BASE), SyntheticPrices)
    assert isinstance(price_source_from_setting(f"csv:{tmp_path}", BASE), CsvReplayPrices)
    with pytest.raises(ValueError, match="unknown"):
        price_source_from_setting("dice", BASE)
