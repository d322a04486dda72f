"""The OHLCV CSV a tenant uploads, parsed and checked line by line (pure Python: the API function
never imports numpy).

Format: `timestamp,open,high,low,close,volume`, one bar per line, oldest first, an optional header
line with exactly those names. `timestamp` is the bar's open time, in epoch milliseconds or
ISO-8601 (`2024-01-01T00:00:00Z`; a time without a zone is UTC). Every problem is reported with
its line number (1-based, the header counting as line 1): a field count other than six, an
unreadable number or time, a time before 2000 (seconds given instead of milliseconds), a
non-positive or non-finite price, a negative or non-finite volume, `high < max(open, close)`,
`low > min(open, close)`, a timestamp equal to or earlier than the previous bar's, and bars closer
together than the timeframe. Gaps (bars further apart than the timeframe) are reported, not
filled and not errors. The timeframe is the one given, or else the smallest spacing between bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from shared.backtest.requests import TIMEFRAME_MS
from shared.errors import ValidationFailed

HEADER = ("timestamp", "open", "high", "low", "close", "volume")
MAX_ERRORS = 100
MAX_GAPS_LISTED = 100
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01: anything earlier is almost surely seconds

Bar = tuple[int, float, float, float, float, float]


@dataclass
class ParsedCsv:
    bars: list[Bar]
    timeframe: str
    gap_count: int = 0
    gaps: list[dict[str, int]] = field(default_factory=list)  # the first MAX_GAPS_LISTED

    def normalized(self) -> bytes:
        """`timestamp_ms,open,high,low,close,volume` without a header; floats by repr, so exact."""
        return "".join(f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for t, o, h, lo, c, v in self.bars).encode()


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, int | str]] = []
        self.truncated = False

    def add(self, line: int, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append({"line": line, "message": message})
        else:
            self.truncated = True


def _timestamp(text: str) -> int:
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _bar(number: int, fields: list[str], errors: _Errors) -> Bar | None:
    """One line's bar, or None (its problems recorded). A bar whose high or low does not contain
    its body is still returned, so the order check runs on it too."""
    if len(fields) != 6:
        errors.add(number, f"expected 6 fields ({','.join(HEADER)}), found {len(fields)}")
        return None
    try:
        ts = _timestamp(fields[0])
    except ValueError:
        errors.add(number, f"timestamp {fields[0][:40]!r} is neither epoch milliseconds nor ISO-8601")
        return None
    if ts < MIN_TIMESTAMP_MS:
        errors.add(number, "timestamp is before 2000-01-01: give epoch milliseconds, not seconds")
        return None
    try:
        o, h, lo, c, v = (float(f) for f in fields[1:])  # "nan"/"inf" parse; the checks below refuse them
    except ValueError:
        errors.add(number, "open, high, low, close and volume must be numbers")
        return None
    bad = [
        name for name, value in zip(HEADER[1:5], (o, h, lo, c), strict=True) if not (math.isfinite(value) and value > 0)
    ]
    if bad:
        errors.add(number, f"{', '.join(bad)} must be positive and finite")
        return None
    if not (math.isfinite(v) and v >= 0):
        errors.add(number, "volume must be finite and not negative")
        return None
    if h < max(o, c):
        errors.add(number, f"high {h!r} is below max(open, close) = {max(o, c)!r}")
    if lo > min(o, c):
        errors.add(number, f"low {lo!r} is above min(open, close) = {min(o, c)!r}")
    return (ts, o, h, lo, c, v)


def parse_csv(data: bytes, timeframe: str | None = None) -> ParsedCsv:
    """The bars of an uploaded CSV, or ValidationFailed whose details list every problem by line."""
    if timeframe is not None and timeframe not in TIMEFRAME_MS:
        raise ValidationFailed(f"unknown timeframe {timeframe!r}", details={"field": "timeframe"})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            "the CSV is not UTF-8 text", details={"errors": [{"line": 0, "message": str(exc)}]}
        ) from exc
    errors = _Errors()
    bars: list[Bar] = []
    lines: list[int] = []  # the line number of each bar
    header_possible = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = [part.strip() for part in line.split(",")]
        if header_possible:
            header_possible = False
            if tuple(f.lower() for f in fields) == HEADER:
                continue
        bar = _bar(number, fields, errors)
        if bar is None:
            continue
        if bars and bar[0] <= bars[-1][0]:
            what = "duplicates" if bar[0] == bars[-1][0] else "is earlier than"
            errors.add(number, f"timestamp {what} the one on line {lines[-1]}: timestamps must increase")
            continue
        bars.append(bar)
        lines.append(number)
    if not bars and not errors.items:
        raise ValidationFailed("the CSV holds no bars", details={"errors": [{"line": 1, "message": "no bars"}]})
    parsed = ParsedCsv(bars=bars, timeframe=timeframe or "")
    if not errors.items:
        _check_spacing(parsed, lines, errors)
    if errors.items:
        raise ValidationFailed(
            f"the CSV has {len(errors.items)}{'+' if errors.truncated else ''} problems; "
            f"the first is on line {errors.items[0]['line']}: {errors.items[0]['message']}",
            code="invalid_csv",
            details={"errors": errors.items, "truncated": errors.truncated},
        )
    return parsed


def _check_spacing(parsed: ParsedCsv, lines: list[int], errors: _Errors) -> None:
    """Infer or check the timeframe; record the gaps."""
    bars = parsed.bars
    spacings = [b[0] - a[0] for a, b in pairwise(bars)]
    if not parsed.timeframe:
        if not spacings:
            errors.add(lines[0], "one bar cannot show its timeframe: give the timeframe")
            return
        smallest = min(spacings)
        names = [name for name, ms in TIMEFRAME_MS.items() if ms == smallest]
        if not names:
            line = lines[spacings.index(smallest) + 1]
            errors.add(line, f"bars {smallest} ms apart match no timeframe ({', '.join(TIMEFRAME_MS)})")
            return
        parsed.timeframe = names[0]
    bar_ms = TIMEFRAME_MS[parsed.timeframe]
    for index, spacing in enumerate(spacings):
        line = lines[index + 1]
        if spacing < bar_ms:
            errors.add(
                line, f"bar is {spacing} ms after the previous one, closer than the {parsed.timeframe} timeframe"
            )
        elif spacing > bar_ms:
            parsed.gap_count += 1
            if len(parsed.gaps) < MAX_GAPS_LISTED:
                parsed.gaps.append(
                    {
                        "line": line,
                        "after_ms": bars[index][0],
                        "next_ms": bars[index + 1][0],
                        "missing_bars": -(-spacing // bar_ms) - 1,
                    }
                )
