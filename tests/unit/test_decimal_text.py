"""A decimal string is accepted exactly when it matches the pattern the OpenAPI states: the rule is
one thing (shared.inputs.DecimalText), read by the validator and written into the schema."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared.inputs import DecimalText, RequestModel

Money = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=8), DecimalText(20, 8)]
Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=3), DecimalText(6, 3, maximum=100)]


class Body(RequestModel):
    money: Money
    percent: Percent = Decimal(1)


def _string_pattern(field: str) -> str:
    schema: dict[str, Any] = Body.model_json_schema()["properties"][field]
    (branch,) = [b for b in schema["anyOf"] if b["type"] == "string"]
    pattern: str = branch["pattern"]
    return pattern


def _accepts(field: str, value: object) -> bool:
    try:
        Body.model_validate({"money": "1", field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("text", ["8E+4", "1e3", "-1", "+1", ".5", "5.", " 1", "1 ", "\u0661", "0", "0.000", "1_0"])
def test_exponents_signs_and_odd_spellings_are_refused_and_the_schema_says_so(text: str) -> None:
    assert not _accepts("money", text)
    assert not re.search(_string_pattern("money"), text)


@pytest.mark.parametrize("text", ["80000", "0.5", "000.00000001", "999999999999.99999999"])
def test_plain_decimals_within_the_digits_are_accepted_and_match(text: str) -> None:
    assert _accepts("money", text)
    assert re.search(_string_pattern("money"), text)


@settings(max_examples=300, derandomize=True)
@given(text=st.text(alphabet="0123456789.eE+- ", max_size=24))
def test_validator_and_schema_agree_on_every_money_string(text: str) -> None:
    assert _accepts("money", text) == bool(re.search(_string_pattern("money"), text))


@settings(max_examples=300, derandomize=True)
@given(text=st.text(alphabet="0123456789.", max_size=9))
def test_validator_and_schema_agree_on_every_bounded_percentage(text: str) -> None:
    assert _accepts("percent", text) == bool(re.search(_string_pattern("percent"), text))


def test_the_number_branch_states_the_digit_bounds() -> None:
    schema = Body.model_json_schema()["properties"]["money"]
    (number,) = [b for b in schema["anyOf"] if b["type"] == "number"]
    assert number["maximum"] == 10**12 - 1
    assert number["multipleOf"] == 1e-8
    assert "multipleOf" not in str(TypeAdapter(Money).json_schema(mode="serialization"))


class Plain(BaseModel):
    value: Money


def test_numbers_still_work() -> None:
    assert Plain.model_validate({"value": 2.5e3}).value == Decimal("2500")
