"""Opaque list cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.errors import BadRequest
from shared.pagination import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor


def _raw_cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "last_key",
    ["bot_01hzy3k6b8c9d0e1f2g3h4j5k6", "a", "x" * 128, "with spaces/and+slashes?&=", "\u00fcnic\u00f8de", "a" * 7],
)
def test_round_trip(last_key: str) -> None:
    cursor = encode_cursor("bots", last_key)
    assert decode_cursor("bots", cursor) == last_key
    # URL-safe and unpadded.
    assert "=" not in cursor
    assert "+" not in cursor
    assert "/" not in cursor


def test_cursor_is_opaque_but_stable() -> None:
    assert encode_cursor("bots", "bot_1") == encode_cursor("bots", "bot_1")
    assert encode_cursor("bots", "bot_1") != encode_cursor("bots", "bot_2")
    assert encode_cursor("bots", "bot_1") != encode_cursor("keys", "bot_1")


def assert_invalid(kind: str, cursor: str) -> None:
    with pytest.raises(BadRequest) as info:
        decode_cursor(kind, cursor)
    assert info.value.error_code == "invalid_cursor"
    assert info.value.status == 400


def test_wrong_kind_rejected() -> None:
    assert_invalid("api_keys", encode_cursor("bots", "bot_1"))


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "%%%%", "not a cursor", "a", "====", "\u00e9\u00e9\u00e9\u00e9", "eyJr"],
    ids=repr,
)
def test_garbage_rejected(cursor: str) -> None:
    assert_invalid("bots", cursor)


@pytest.mark.parametrize(
    "data",
    [
        ["bots", "bot_1"],
        "bot_1",
        42,
        None,
        True,
        {"k": "bots"},
        {"k": "bots", "after": 5},
        {"k": "bots", "after": None},
        {"k": "bots", "after": ""},
        {"k": "bots", "after": "x" * 129},
        {"after": "bot_1"},
        {"k": ["bots"], "after": "bot_1"},
    ],
    ids=repr,
)
def test_wrong_shape_rejected(data: Any) -> None:
    assert_invalid("bots", _raw_cursor(data))


def test_hand_made_valid_cursor_accepted() -> None:
    # Guards the shape tests: the same encoding with a good body decodes.
    assert decode_cursor("bots", _raw_cursor({"k": "bots", "after": "bot_1"})) == "bot_1"


def test_non_utf8_payload_rejected() -> None:
    cursor = base64.urlsafe_b64encode(b"\xff\xfe\xfd\xfc").decode()
    assert_invalid("bots", cursor)


def test_overly_long_cursor_rejected() -> None:
    padding = "p" * MAX_CURSOR_LENGTH
    cursor = _raw_cursor({"k": "bots", "after": "bot_1", "pad": padding})
    assert len(cursor) > MAX_CURSOR_LENGTH
    assert_invalid("bots", cursor)
    assert_invalid("bots", "A" * (MAX_CURSOR_LENGTH + 1))


def test_cursor_at_length_limit_is_checked_normally() -> None:
    # A cursor at (or one character under) the limit is not refused for its length.
    longest = ""
    for size in range(MAX_CURSOR_LENGTH):
        candidate = _raw_cursor({"k": "bots", "after": "bot_1", "pad": "p" * size})
        if len(candidate) > MAX_CURSOR_LENGTH:
            break
        longest = candidate
    assert MAX_CURSOR_LENGTH - 1 <= len(longest) <= MAX_CURSOR_LENGTH
    assert decode_cursor("bots", longest) == "bot_1"
