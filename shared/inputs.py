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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


class RequestModel(BaseModel):
    """Base of every request body model: no type coercion, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


# ------------------------------------------------------------------ decimals

# A decimal string is plain: ASCII digits with an optional fraction, no sign, no exponent ("8E+4"
# is refused; send 80000). The OpenAPI states the same pattern (DecimalText), so no client is told
# one thing and held to another.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def decimal_string_pattern(max_digits: int, decimal_places: int, maximum: int | None = None) -> str:
    """The pattern of a positive plain decimal with at most `max_digits - decimal_places` whole
    digits and `decimal_places` fraction digits (and at most `maximum`, a power of ten, if given):
    what the API accepts and what its OpenAPI states."""
    fraction = rf"(?:\.[0-9]{{1,{decimal_places}}})?"
    if maximum is None:
        return rf"^(?=[0-9.]*[1-9])[0-9]{{1,{max_digits - decimal_places}}}{fraction}$"
    whole = len(str(maximum)) - 1
    return rf"^(?=[0-9.]*[1-9])(?:[0-9]{{1,{whole}}}{fraction}|{maximum}(?:\.0{{1,{decimal_places}}})?)$"


def _decimal_input(value: object, text: re.Pattern[str] = _PLAIN_DECIMAL) -> object:
    """A JSON number or a plain decimal string of ASCII digits, as a Decimal; anything else is
    refused (booleans, exponents, signs, padded or non-ASCII digit strings), before pydantic's
    strict checks run."""
    if isinstance(value, bool):
        raise ValueError("expected a number or a decimal string, not a boolean")
    if isinstance(value, str):
        if not text.fullmatch(value):
            raise ValueError('expected a plain decimal written with ASCII digits, e.g. "0.5" or "1000"')
        return Decimal(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


DecimalInput = BeforeValidator(_decimal_input)
"""A decimal a client sends, unbounded digits (prefer DecimalText, which also states its bounds in
the OpenAPI). Put after the Field in `Annotated[Decimal, Field(...), DecimalInput]`."""


@dataclass(frozen=True)
class DecimalText:
    """A positive decimal a client sends as a JSON number or a plain decimal string, with its digit
    bounds: `Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=8), DecimalText(20, 8)]`
    (after the Field: placed before it, pydantic 2.13 drops the whole-digits check). The string
    rule is one pattern, used by the validator and written into the OpenAPI."""

    max_digits: int
    decimal_places: int
    maximum: int | None = None  # a power of ten, as the Field's `le`

    @property
    def pattern(self) -> str:
        return decimal_string_pattern(self.max_digits, self.decimal_places, self.maximum)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        text = re.compile(self.pattern.removeprefix("^").removesuffix("$"))
        return core_schema.no_info_before_validator_function(lambda v: _decimal_input(v, text), handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        if handler.mode == "validation":
            for branch in json_schema.get("anyOf", ()):
                if branch.get("type") == "string":
                    branch["pattern"] = self.pattern
                elif branch.get("type") == "number":
                    branch["multipleOf"] = float(Decimal(1).scaleb(-self.decimal_places))
                    if self.maximum is None:
                        # One below the bound: a float just under 10**n may print as 10**n.
                        branch["maximum"] = 10 ** (self.max_digits - self.decimal_places) - 1
        return json_schema


def _timestamp_input(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("expected an ISO-8601 timestamp string with a time zone")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_input), Field(strict=False)]
"""An ISO-8601 string with a zone; parsed from text (strict mode alone would refuse any string),
never from a bare number."""


# ------------------------------------------------------------------ idempotency keys

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""1 to 255 printable ASCII characters without spaces: checked by shared.web, stated in the OpenAPI."""


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


# ------------------------------------------------------------------ markets and accounts

# ccxt unified symbols: BASE/QUOTE, optionally :SETTLE for derivatives.
Symbol = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}(:[A-Z0-9]{1,12})?$")
]
ExchangeAccountId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^(paper|acct_[0-9a-z]{26})$")
]
"""`paper` or an exchange account's id (`acct_` + ULID)."""
