"""The one JSON parser for request bodies, stricter than `json.loads` where leniency lets two
parsers read one body differently (a WAF or a client library against us).

Refused, each with a message saying why: bytes that are not UTF-8, a byte order mark (RFC 8259
forbids sending one; we refuse rather than strip, so every reader sees the same bytes), duplicate
keys (`json.loads` keeps the last, others the first), `NaN`/`Infinity` (not JSON), number
literals longer than MAX_NUMBER_CHARS (a 5,000-digit integer costs quadratic time to convert),
nesting deeper than MAX_DEPTH, and strings holding lone surrogates (not encodable as UTF-8 text).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 100
_BOM = b"\xef\xbb\xbf"


class MalformedJson(ValueError):
    """The body is not JSON we accept; the message says why (never echoing the body)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedJson(f"duplicate key {key[:64]!r} in a JSON object")
        result[key] = value
    return result


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise MalformedJson(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise MalformedJson(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return float(text)


def _constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not a JSON value")


def _check_shape(value: Any) -> None:
    """Depth and encodability, walked without recursion so a hostile body cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedJson("a string holds a lone UTF-16 surrogate escape") from None
            continue
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedJson(f"nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def parse_json_body(body: bytes) -> Any:
    """The body's JSON value, or MalformedJson."""
    if body.startswith(_BOM):
        raise MalformedJson("a UTF-8 byte order mark is not allowed before the JSON text")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("the body is not valid UTF-8") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_int=_int, parse_float=_float, parse_constant=_constant
        )
    except MalformedJson:
        raise
    except RecursionError:
        raise MalformedJson(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError:
        raise MalformedJson("not valid JSON") from None
    _check_shape(value)
    return value
