"""template.yaml is valid, transforms offline, and declares everything the code uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pynamodb.models import Model

from localcloud.template import TEMPLATE_PATH, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_cfn_lint_with_serverless_rules_passes() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--append-rules",
            "cfn_lint_serverless.rules",
            "--",
            str(TEMPLATE_PATH),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_translator_transforms_the_template_offline() -> None:
    from cfnlint.decode.cfn_yaml import loads
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    parsed = loads(TEMPLATE_PATH.read_text())
    for resource in parsed["Resources"].values():  # what `sam package` does before deploy
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://artifacts/code.zip"

    class OfflinePolicies(ManagedPolicyLoader):  # type: ignore[misc]
        def __init__(self) -> None:
            pass

        def load(self) -> dict[str, str]:
            return {}

    output = transform(parsed, {}, OfflinePolicies())
    types = {r["Type"] for r in output["Resources"].values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Stage",
        "AWS::Lambda::LayerVersion",
        "AWS::Scheduler::Schedule",
    } <= types
    api = next(r for r in output["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi")
    security = api["Properties"]["Body"]["securityDefinitions"]["TenantAuthorizer"]
    assert security["x-amazon-apigateway-authorizer"]["type"] == "request"
    operations = api["Properties"]["Body"]["paths"]
    assert operations["/auth/signup"]["x-amazon-apigateway-any-method"].get("security") in (None, [{"NONE": []}], [])
    assert operations["/bots/{proxy+}"]["x-amazon-apigateway-any-method"]["security"] == [{"TenantAuthorizer": []}]
    # API contract: every API path takes any verb into its function (which answers 405 with Allow),
    # public ones without the authorizer, as their served method.
    api_paths = {path for path in operations if path != "/example-consumer/sns"}
    assert all(set(operations[path]) == {"x-amazon-apigateway-any-method"} for path in api_paths), api_paths
    for public in ("/auth/login", "/health", "/openapi.json", "/signals/{bot_id}"):
        assert operations[public]["x-amazon-apigateway-any-method"].get("security") in (None, [{"NONE": []}], [])
    assert operations["/events"]["x-amazon-apigateway-any-method"]["security"] == [{"TenantAuthorizer": []}]


def _models() -> list[type[Model]]:
    from shared.auth.models import ApiKeyRecord, UserRecord
    from shared.backtest.records import BacktestRecord, DatasetRecord, SweepRecord
    from shared.billing.models import (  # billing-stripe
        BillingRecord,
        StripeEventRecord,
        UsageRecord,  # billing-stripe
    )
    from shared.bots.models import BotRecord
    from shared.events.models import EventRecord
    from shared.tenants.models import TenantRecord
    from shared.webhooks.deliveries import WebhookDeliveryRecord  # webhooks-out
    from shared.webhooks.subscriptions import EventStreamRecord, WebhookSubscriptionRecord  # webhooks-out

    return [
        TenantRecord,
        UserRecord,
        ApiKeyRecord,
        BotRecord,
        EventRecord,
        BacktestRecord,
        SweepRecord,
        DatasetRecord,  # backtests (issue 9)
        WebhookSubscriptionRecord,
        EventStreamRecord,
        WebhookDeliveryRecord,
        BillingRecord,  # billing-stripe
        StripeEventRecord,
        UsageRecord,
    ]


def _table_for(template: dict[str, Any], model: type[Model]) -> dict[str, Any]:
    """The template table whose name the functions get in the variable the model reads."""
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    for variable, value in env.items():
        if os.environ.get(variable) == model.Meta.table_name and isinstance(value, dict) and "Ref" in value:
            resource: dict[str, Any] = template["Resources"][value["Ref"]]
            assert resource["Type"] == "AWS::DynamoDB::Table"
            properties: dict[str, Any] = resource["Properties"]
            return properties
    raise AssertionError(f"no template table feeds {model.__name__}")


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_model_matches_a_template_table(template: dict[str, Any], model: type[Model]) -> None:
    props = _table_for(template, model)
    keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    assert keys.get("HASH") == model._hash_keyname
    assert keys.get("RANGE") == model._range_keyname
    declared = {
        g["IndexName"]: {k["KeyType"]: k["AttributeName"] for k in g["KeySchema"]}
        for g in props.get("GlobalSecondaryIndexes", [])
    }
    for index in model._indexes.values():
        name = index.Meta.index_name
        assert name in declared, f"{model.__name__} uses index {name} the template lacks"
        schema = {k["KeyType"]: k["AttributeName"] for k in index._get_schema()["key_schema"]}
        assert declared[name] == schema
    assert model.exists(), "the provisioned table is missing on the local endpoint"


def test_idempotency_table_has_powertools_schema(template: dict[str, Any]) -> None:
    props = template["Resources"]["IdempotencyTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_every_setting_the_code_reads_is_set_by_the_template(template: dict[str, Any]) -> None:
    from dataclasses import fields

    from shared.config import Settings

    env = template["Globals"]["Function"]["Environment"]["Variables"]
    for name in (spec.name for spec in fields(Settings)):
        if name.endswith("_table") or name == "event_bus_name":
            assert name.upper() in env, f"{name.upper()} missing from Globals"
    assert "JWT_SECRET_ARN" in env


def test_every_function_has_a_handler_module(template: dict[str, Any]) -> None:
    from localcloud.template import handler_module

    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert {"AuthorizerFunction", "AuthApiFunction", "BotsApiFunction", "SystemApiFunction"} <= set(functions)
    for logical_id in functions:
        module, attribute = handler_module(template, logical_id)
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.exists(), path
        assert f"{attribute} =" in path.read_text() or f"def {attribute}(" in path.read_text()


def test_layers_pin_overlapping_packages_identically() -> None:
    pins: dict[str, dict[str, str]] = {}
    for requirements in sorted((ROOT / "layers").glob("*/requirements.txt")):
        for raw in requirements.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins.setdefault(name.split("[")[0].lower(), {})[requirements.parent.name] = version
    for name, versions in pins.items():
        assert len(set(versions.values())) == 1, f"{name} pinned differently: {versions}"


def test_every_api_function_runs_on_python_3_12_with_snapstart(template: dict[str, Any]) -> None:
    """The HTTP-facing functions restore from a snapshot (parameter SnapStart, on by default), and
    the API calls their published alias; no function runs on a deprecated runtime."""
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    functions = resources_of_type(template, "AWS::Serverless::Function")
    api = {
        name
        for name, spec in functions.items()
        if any(e.get("Type") == "Api" for e in spec["Properties"].get("Events", {}).values())
    }
    assert {"BotsApiFunction", "OrdersApiFunction", "SignalsApiFunction"} <= api
    for name in api - {"ExampleConsumerFunction"}:
        properties = functions[name]["Properties"]
        assert properties.get("AutoPublishAlias") == "live", name
        assert properties["SnapStart"] == {"ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}}, name
    assert template["Parameters"]["SnapStart"]["Default"] == "on"


def test_every_api_route_takes_any_method_so_the_app_answers_405(template: dict[str, Any]) -> None:
    """API Gateway answers a method a route does not declare as a missing route (404 here); with
    `Method: any` the function gets the request and its app answers 405 with `Allow`. The example
    consumer is a plain SNS endpoint outside the API."""
    single = [
        f"{name} {event['Properties']['Method']} {event['Properties']['Path']}"
        for name, spec in resources_of_type(template, "AWS::Serverless::Function").items()
        if name != "ExampleConsumerFunction"
        for event in spec["Properties"].get("Events", {}).values()
        if event.get("Type") == "Api" and str(event["Properties"]["Method"]).lower() != "any"
    ]
    assert single == []


def test_an_sqs_source_never_outruns_its_functions_reserved_concurrency(template: dict[str, Any]) -> None:
    """The event source mapping ignores reserved concurrency: without MaximumConcurrency at or
    below it, a burst is throttled back to the queue and counts towards maxReceiveCount, so trade
    tasks that never ran could be dead-lettered."""
    functions = resources_of_type(template, "AWS::Serverless::Function")
    checked = []
    for name, spec in functions.items():
        reserved = spec["Properties"].get("ReservedConcurrentExecutions")
        for event in spec["Properties"].get("Events", {}).values():
            if event.get("Type") != "SQS" or reserved is None:
                continue
            maximum = event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
            assert maximum is not None and 2 <= int(maximum) <= int(reserved), name
            checked.append(name)
    assert "TradeWorkerFunction" in checked
