"""The uploaded OHLCV CSV: every problem named with its line, gaps reported, values kept exact."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.market_data.csv_format import MAX_ERRORS, parse_csv

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000


def _bars(count: int, start: int = T0, step: int = HOUR) -> list[str]:
    return [f"{start + i * step},100,101,99,100.5,3" for i in range(count)]


def _csv(lines: list[str], header: bool = True) -> bytes:
    return (("timestamp,open,high,low,close,volume\n" if header else "") + "\n".join(lines) + "\n").encode()


def _errors(data: bytes, timeframe: str | None = None) -> list[tuple[int, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_csv(data, timeframe)
    assert isinstance(caught.value.details, dict)
    return [(e["line"], e["message"]) for e in caught.value.details["errors"]]


def test_header_optional_and_both_time_forms() -> None:
    with_header = parse_csv(_csv(_bars(3)))
    lines = _bars(3)
    lines[1] = "2024-01-01T01:00:00Z" + lines[1][13:]
    lines[2] = "2024-01-01T02:00:00" + lines[2][13:]  # no zone: UTC
    without = parse_csv(_csv(lines, header=False))
    assert with_header.bars == without.bars
    assert [b[0] for b in without.bars] == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert without.timeframe == "1h"


@pytest.mark.parametrize(
    ("bad_line", "says"),
    [
        ("1704078000000,100,101,99", "expected 6 fields"),
        ("yesterday,100,101,99,100,1", "neither epoch milliseconds nor ISO-8601"),
        ("1704078000,100,101,99,100,1", "give epoch milliseconds, not seconds"),
        ("1704078000000,abc,101,99,100,1", "must be numbers"),
        ("1704078000000,100,101,99,nan,1", "close must be positive and finite"),
        ("1704078000000,100,inf,99,100,1", "high must be positive and finite"),
        ("1704078000000,0,101,99,100,1", "open must be positive and finite"),
        ("1704078000000,100,101,99,100,-1", "volume must be finite and not negative"),
        ("1704078000000,100,100.2,99,100.5,1", "high 100.2 is below max(open, close) = 100.5"),
        ("1704078000000,100,101,100.1,100.5,1", "low 100.1 is above min(open, close) = 100.0"),
        ("1704070800000,100,101,99,100,1", "duplicates the one on line 3"),
        ("1704067200000,100,101,99,100,1", "is earlier than the one on line 3"),
    ],
)
def test_each_problem_names_its_line(bad_line: str, says: str) -> None:
    lines = _bars(2)  # lines 2 and 3 (bars at T0 and T0 + 1h)
    lines.insert(2, bad_line)  # line 4 (where a bar at T0 + 3h is expected)
    errors = _errors(_csv([*lines, f"{T0 + 4 * HOUR},1,1,1,1,1"]))
    assert errors[0][0] == 4
    assert says in errors[0][1]


def test_every_error_is_listed_up_to_a_cap() -> None:
    lines = [f"{T0 + i * HOUR},100,101,99,-5,1" for i in range(MAX_ERRORS + 20)]
    with pytest.raises(ValidationFailed) as caught:
        parse_csv(_csv(lines))
    details = caught.value.details
    assert isinstance(details, dict)
    assert [e["line"] for e in details["errors"]] == list(range(2, MAX_ERRORS + 2))
    assert details["truncated"] is True
    assert caught.value.message.startswith(f"the CSV has {MAX_ERRORS}+ problems; the first is on line 2")


def test_gaps_are_reported_not_filled() -> None:
    lines = _bars(10)
    del lines[6]  # one missing bar
    del lines[2:4]  # two missing bars
    parsed = parse_csv(_csv(lines))
    assert len(parsed.bars) == 7
    assert parsed.gap_count == 2
    assert parsed.gaps == [
        {"line": 4, "after_ms": T0 + HOUR, "next_ms": T0 + 4 * HOUR, "missing_bars": 2},
        {"line": 6, "after_ms": T0 + 5 * HOUR, "next_ms": T0 + 7 * HOUR, "missing_bars": 1},
    ]


def test_a_given_timeframe_refuses_closer_bars() -> None:
    errors = _errors(_csv(_bars(3, step=HOUR)), timeframe="4h")
    assert errors == [
        (3, "bar is 3600000 ms after the previous one, closer than the 4h timeframe"),
        (4, "bar is 3600000 ms after the previous one, closer than the 4h timeframe"),
    ]
    assert parse_csv(_csv(_bars(3, step=HOUR)), timeframe="15m").gap_count == 2


def test_a_spacing_that_is_no_timeframe_is_refused() -> None:
    assert _errors(_csv(_bars(3, step=7 * 60_000))) == [
        (3, "bars 420000 ms apart match no timeframe (1m, 5m, 15m, 1h, 4h, 1d)")
    ]
    assert "give the timeframe" in _errors(_csv(_bars(1)))[0][1]
    assert parse_csv(_csv(_bars(1)), timeframe="1d").timeframe == "1d"


def test_normalized_values_are_exact() -> None:
    lines = [f"{T0},0.1,0.30000000000000004,0.07,0.2,1e-7", f"{T0 + 60_000},0.2,0.3,0.1,0.25,12345.678901234567"]
    parsed = parse_csv(_csv(lines))
    again = parse_csv(parsed.normalized())
    assert again.bars == parsed.bars
    assert parsed.bars[0][2] == 0.30000000000000004


def test_empty_and_binary_files_are_refused() -> None:
    assert _errors(b"timestamp,open,high,low,close,volume\n") == [(1, "no bars")]
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        parse_csv(b"\xff\xfe\x00bad")
