"""What a request body may contain: the one strict base for request models, decimals that come as
numbers or decimal strings, and the one rule for names people type.

Strict because lax coercion hides client bugs and opens parser differentials: `true` stored as the
integer 1, `"off"` read as a boolean, `"١٢"` (Arabic-Indic digits) read as twelve. Money is the one
documented exception: it may come as a JSON number or a decimal string, so clients never need a
float to send it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


class RequestModel(BaseModel):
    """Base of every request body model: no type coercion, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


# ------------------------------------------------------------------ decimals

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _decimal_input(value: object) -> object:
    """A JSON number or a decimal string of ASCII digits, as a Decimal; anything else is refused
    (booleans, padded or non-ASCII digit strings), before pydantic's strict checks run."""
    if isinstance(value, bool):
        raise ValueError("expected a number or a decimal string, not a boolean")
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise ValueError('expected a decimal number written with ASCII digits, e.g. "0.5" or "1e3"')
        return Decimal(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


DecimalInput = BeforeValidator(_decimal_input)
"""Put into `Annotated[Decimal, Field(...), DecimalInput]` for every decimal a client sends (after the
Field: placed before it, pydantic 2.13 drops the whole-digits check of max_digits/decimal_places)."""


def _timestamp_input(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("expected an ISO-8601 timestamp string with a time zone")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_input), Field(strict=False)]
"""An ISO-8601 string with a zone; parsed from text (strict mode alone would refuse any string),
never from a bare number."""


# ------------------------------------------------------------------ names

NAME_MAX_LENGTH = 64
# Bidirectional embeddings, overrides and isolates: they make text display differently from what
# it is ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that render as nothing, beyond the Unicode format/space categories.
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_NAME_PATTERN = "^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+$"


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cf", "Mn", "Me", "Zs") or char in _BLANK_LOOKALIKES


def _clean_name(value: str) -> str:
    """Trimmed and NFC-normalized; refused if it holds control or bidi characters or shows nothing."""
    value = unicodedata.normalize("NFC", value.strip())
    for char in value:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise ValueError("must not contain control characters or line breaks")
        if char in _BIDI_CONTROLS:
            raise ValueError("must not contain bidirectional override or isolate characters")
    if all(_invisible(char) for char in value):
        raise ValueError("must contain at least one visible character")
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH),
    AfterValidator(_clean_name),
    Field(
        json_schema_extra={"pattern": _NAME_PATTERN},
        description=f"1 to {NAME_MAX_LENGTH} characters, trimmed and NFC-normalized; no control or "
        "bidirectional-override characters, and at least one visible character.",
    ),
]
"""Every name or label a person types (bots, API keys, exchange accounts, tenants, datasets)."""
