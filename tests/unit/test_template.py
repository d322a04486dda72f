"""template.yaml loading (short-form tags) and intrinsic function resolution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcloud.template import TEMPLATE_PATH, PhysicalResource, Resolver, load_template

SAMPLE = """\
Parameters:
  Stage:
    Type: String
    Default: dev
  Retention:
    Type: Number
    Default: 30
  NoDefault:
    Type: String
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-table"
      Plain: !Ref Stage
      Arn: !GetAtt Table.Arn
      Nested: !GetAtt Table.StreamSpecification.StreamArn
      ListGetAtt: !GetAtt [Table, Arn]
      Joined: !Join ["-", [a, !Ref Stage, b]]
      SubList: !Sub ["${X}-${Stage}", {X: !Ref Retention}]
      Literal: "!Ref NotATag"
"""


@pytest.fixture
def sample(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(SAMPLE)
    return load_template(path)


def test_short_form_tags_parsed(sample: dict[str, Any]) -> None:
    props = sample["Resources"]["Table"]["Properties"]
    assert props["TableName"] == {"Fn::Sub": "${AWS::StackName}-table"}
    assert props["Plain"] == {"Ref": "Stage"}
    assert props["Arn"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert props["Nested"] == {"Fn::GetAtt": ["Table", "StreamSpecification.StreamArn"]}
    assert props["ListGetAtt"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert props["Joined"] == {"Fn::Join": ["-", ["a", {"Ref": "Stage"}, "b"]]}
    assert props["SubList"] == {"Fn::Sub": ["${X}-${Stage}", {"X": {"Ref": "Retention"}}]}
    assert props["Literal"] == "!Ref NotATag"


def test_load_is_safe(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("x: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(yaml.YAMLError, match="python/object"):
        load_template(path)


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def test_real_template_loads_with_intrinsics() -> None:
    template = load_template()
    assert TEMPLATE_PATH.name == "template.yaml"
    assert "Resources" in template
    nodes = list(_walk(template))
    # Only plain YAML types survive loading.
    assert all(isinstance(n, dict | list | str | int | float | bool | type(None)) for n in nodes)
    refs = [n for n in nodes if isinstance(n, dict) and set(n) == {"Ref"}]
    get_atts = [n for n in nodes if isinstance(n, dict) and set(n) == {"Fn::GetAtt"}]
    subs = [n for n in nodes if isinstance(n, dict) and set(n) == {"Fn::Sub"}]
    assert refs
    assert get_atts
    assert subs
    assert all(isinstance(n["Ref"], str) for n in refs)
    assert all(isinstance(n["Fn::GetAtt"], list) and len(n["Fn::GetAtt"]) == 2 for n in get_atts)
    # No tag was left as a raw string.
    assert not [n for n in nodes if isinstance(n, str) and n.startswith(("!Ref ", "!GetAtt ", "!Sub "))]


def test_real_template_bus_name_resolves() -> None:
    template = load_template()
    bus = template["Resources"]["DomainEventBus"]["Properties"]["Name"]
    resolver = Resolver(template, "eu-west-1", "123456789012", "mystack")
    assert resolver.resolve(bus) == "mystack-domain-events"


# ------------------------------------------------------------------ Resolver


@pytest.fixture
def resolver(sample: dict[str, Any]) -> Resolver:
    r = Resolver(sample, region="eu-west-1", account_id="123456789012", stack_name="mystack")
    r.resources["Table"] = PhysicalResource(
        ref="mystack-table",
        attributes={
            "Arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/mystack-table",
            "StreamSpecification.StreamArn": "arn:stream",
        },
    )
    r.resources["Bus"] = PhysicalResource(ref="mystack-bus", attributes={"Arn": "arn:bus", "Name": "mystack-bus"})
    return r


def test_ref_parameter_default(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "Stage"}) == "dev"
    assert resolver.resolve({"Ref": "Retention"}) == "30"
    assert resolver.resolve({"Ref": "NoDefault"}) == ""


def test_ref_parameter_override(sample: dict[str, Any]) -> None:
    r = Resolver(sample, "eu-west-1", "1", "s", parameters={"Stage": "prod"})
    assert r.resolve({"Ref": "Stage"}) == "prod"
    assert r.resolve({"Ref": "Retention"}) == "30"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWS::Region", "eu-west-1"),
        ("AWS::StackName", "mystack"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
    ],
)
def test_ref_pseudo_parameters(resolver: Resolver, name: str, expected: str) -> None:
    assert resolver.resolve({"Ref": name}) == expected


def test_ref_resource(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "Table"}) == "mystack-table"
    assert resolver.resolve({"Ref": "Bus"}) == "mystack-bus"


def test_ref_unknown_raises(resolver: Resolver) -> None:
    with pytest.raises(KeyError, match="Missing"):
        resolver.resolve({"Ref": "Missing"})


def test_get_att(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::GetAtt": ["Bus", "Arn"]}) == "arn:bus"
    assert resolver.resolve({"Fn::GetAtt": ["Table", "StreamSpecification.StreamArn"]}) == "arn:stream"
    with pytest.raises(KeyError, match=r"Bus\.Nope"):
        resolver.resolve({"Fn::GetAtt": ["Bus", "Nope"]})
    with pytest.raises(KeyError):
        resolver.resolve({"Fn::GetAtt": ["Nobody", "Arn"]})


def test_sub_refs_and_attributes(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Sub": "${AWS::StackName}-table"}) == "mystack-table"
    assert resolver.resolve({"Fn::Sub": "${Bus.Arn}/rules"}) == "arn:bus/rules"
    assert resolver.resolve({"Fn::Sub": "${Table}:${Stage}:${AWS::Region}"}) == "mystack-table:dev:eu-west-1"
    assert (
        resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"})
        == "arn:aws:iam::123456789012:root"
    )
    assert resolver.resolve({"Fn::Sub": "no variables"}) == "no variables"
    with pytest.raises(KeyError):
        resolver.resolve({"Fn::Sub": "${Unknown}"})


def test_sub_list_form(resolver: Resolver) -> None:
    value = {"Fn::Sub": ["${Name}/${Stage}/${Arn}", {"Name": "literal", "Arn": {"Fn::GetAtt": ["Bus", "Arn"]}}]}
    assert resolver.resolve(value) == "literal/dev/arn:bus"
    # Local variables shadow parameters of the same name.
    assert resolver.resolve({"Fn::Sub": ["${Stage}", {"Stage": "local"}]}) == "local"


def test_sub_escaped_literal(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Sub": "a-${!Literal}-b"}) == "a-${Literal}-b"


def test_join(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, "b"]]}) == "a-dev-b"
    assert (
        resolver.resolve({"Fn::Join": ["", [{"Ref": "AWS::Region"}, ":", {"Fn::GetAtt": ["Bus", "Name"]}]]})
        == "eu-west-1:mystack-bus"
    )
    assert resolver.resolve({"Fn::Join": [",", []]}) == ""


def test_resolve_template_sections(resolver: Resolver, sample: dict[str, Any]) -> None:
    props = resolver.resolve(sample["Resources"]["Table"]["Properties"])
    assert props == {
        "TableName": "mystack-table",
        "Plain": "dev",
        "Arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/mystack-table",
        "Nested": "arn:stream",
        "ListGetAtt": "arn:aws:dynamodb:eu-west-1:123456789012:table/mystack-table",
        "Joined": "a-dev-b",
        "SubList": "30-dev",
        "Literal": "!Ref NotATag",
    }
    # The template itself is not modified.
    assert sample["Resources"]["Table"]["Properties"]["Plain"] == {"Ref": "Stage"}


def test_resolve_passes_plain_values_through(resolver: Resolver) -> None:
    assert resolver.resolve("text") == "text"
    assert resolver.resolve(5) == 5
    assert resolver.resolve(None) is None
    assert resolver.resolve([1, {"Ref": "Stage"}]) == [1, "dev"]
    assert resolver.resolve({"Key": "v"}) == {"Key": "v"}
    assert resolver.resolve({"A": {"Ref": "Stage"}, "B": 2}) == {"A": "dev", "B": 2}


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    """Plain YAML keeps the last of two equal keys; CloudFormation refuses the template."""
    path = tmp_path / "duplicate.yaml"
    path.write_text("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n  Queue:\n    Type: AWS::SNS::Topic\n")
    with pytest.raises(yaml.YAMLError, match="Duplicate found 'Queue'"):
        load_template(path)
