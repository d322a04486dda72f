"""Reads template.yaml (CloudFormation short-form tags included) and resolves intrinsics.

The local cloud derives everything from the template, so the template and what runs on a laptop
cannot disagree: tables, queues, buses, rules, topics, functions, routes and schedules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, short-form tags turned into their long form (`!Ref x` ->
    `{"Ref": x}`, `!GetAtt a.b` -> `{"Fn::GetAtt": ["a", "b"]}`), by cfn-lint's decoder: the same
    reading `sam validate --lint` gives it, duplicate keys rejected. It parses with a safe loader;
    errors are yaml.YAMLError subclasses."""
    from cfnlint.decode.cfn_yaml import loads  # 0.5 s to import: only when a template is read

    data: dict[str, Any] = loads(path.read_text(), str(path))
    return data


@dataclass
class PhysicalResource:
    """What Ref and Fn::GetAtt of one logical resource return."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Resolver:
    template: dict[str, Any]
    region: str
    account_id: str
    stack_name: str
    parameters: dict[str, str] = field(default_factory=dict)
    resources: dict[str, PhysicalResource] = field(default_factory=dict)

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        spec = self.template.get("Parameters", {}).get(name, {})
        return str(spec.get("Default", ""))

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        if name in self.resources:
            return self.resources[name].ref
        raise KeyError(f"unresolvable Ref {name!r}")

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.resources[name].attributes[attribute]
        except KeyError:
            raise KeyError(f"unresolvable GetAtt {name}.{attribute}") from None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return self.ref(name)

        resolved = re.sub(r"\$\{([^}!][^}]*)\}", replace, text)
        return resolved.replace("${!", "${")  # ${!Literal} is CloudFormation's escape


def resources_of_type(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    """Resources of these types whose `Condition` (if any) holds with the parameters' defaults."""
    return {
        name: spec
        for name, spec in template.get("Resources", {}).items()
        if spec.get("Type") in types and ("Condition" not in spec or condition_holds(template, spec["Condition"]))
    }


def condition_holds(template: dict[str, Any], name: str) -> bool:
    """Evaluate a template condition (Fn::Equals/Not/And/Or, Ref to parameters at their defaults,
    nested Condition): enough for the switches the template declares, such as ExampleConsumer."""
    return bool(_condition_value(template, template.get("Conditions", {})[name]))


def _condition_value(template: dict[str, Any], expression: Any) -> Any:
    if not isinstance(expression, dict) or len(expression) != 1:
        return expression
    ((key, argument),) = expression.items()
    if key == "Ref":
        return str(template.get("Parameters", {}).get(argument, {}).get("Default", ""))
    if key == "Condition":
        return condition_holds(template, argument)
    values = [_condition_value(template, item) for item in argument]
    if key == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if key == "Fn::Not":
        return not values[0]
    if key == "Fn::And":
        return all(values)
    if key == "Fn::Or":
        return any(values)
    raise ValueError(f"unsupported condition function {key}")


def handler_module(template: dict[str, Any], logical_id: str) -> tuple[str, str]:
    """(module, attribute) of a function's handler: CodeUri `functions/x/` + `app.lambda_handler`."""
    props = template["Resources"][logical_id]["Properties"]
    default = template.get("Globals", {}).get("Function", {}).get("Handler", "app.lambda_handler")
    module_file, attribute = str(props.get("Handler", default)).rsplit(".", 1)
    code_uri = str(props["CodeUri"]).strip("/")
    return f"{code_uri.replace('/', '.')}.{module_file}", attribute


def api_function_ids(template: dict[str, Any]) -> list[str]:
    """Functions behind API routes, in template order."""
    return [
        logical_id
        for logical_id, spec in resources_of_type(template, "AWS::Serverless::Function").items()
        if any(e.get("Type") == "Api" for e in spec["Properties"].get("Events", {}).values())
    ]
