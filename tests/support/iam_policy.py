"""Each function's IAM policy from template.yaml, and the IAM permissions an AWS API call needs.

moto does not enforce IAM, so a call a function's least-privilege policy does not allow passes every
local test and fails on AWS with AccessDenied. This module is the IAM side of the check that closes
that gap (tests.support.iam_recorder records the calls): `required_permissions` maps one botocore
call (service, operation, parameters) to the (action, resource ARN) pairs AWS authorizes it by, and
`FunctionPolicies` answers whether a function's identity policy allows each one.

Covered: inline `Statement` policies (Allow/Deny, Action/Resource with `*` and `?` wildcards, the
String* and Bool condition operators) after the template's intrinsics are resolved, and the SAM
policy templates listed in SAM_POLICY_TEMPLATES. Anything else in `Policies` raises, so a policy the
check cannot read is never counted as allowing (or denying) anything silently. Resource policies
(bucket, queue, key policies) and the policies SAM adds by itself (logs, X-Ray, the SQS event
source's polling) are out of scope: the function's own code never needs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from localcloud.template import Resolver, resources_of_type

Context = tuple[tuple[str, str], ...]  # condition keys the request carries, e.g. (("s3:prefix", "history/x"),)


@dataclass(frozen=True, order=True)
class Permission:
    """One IAM authorization a call needs: an action on a resource ARN (with its condition keys)."""

    action: str
    resource: str
    context: Context = ()

    def __str__(self) -> str:
        extra = "".join(f" [{key}={value}]" for key, value in self.context)
        return f"{self.action} on {self.resource}{extra}"


# ----------------------------------------------------------------------------- calls -> permissions


@dataclass(frozen=True)
class Arns:
    """How the physical names a call carries become ARNs (region, account, the secrets' full ARNs)."""

    region: str
    account: str
    secret_arns: tuple[str, ...] = ()

    @classmethod
    def of(cls, resolver: Resolver) -> Arns:
        secrets = tuple(r.ref for r in resolver.resources.values() if r.ref.startswith("arn:aws:secretsmanager:"))
        return cls(resolver.region, resolver.account_id, secrets)

    def table(self, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def queue(self, url_or_name: str) -> str:
        name = url_or_name.rstrip("/").rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def event_bus(self, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:events:{self.region}:{self.account}:event-bus/{name}"

    def key(self, key_id: str) -> str:
        if key_id.startswith("arn:"):
            return key_id
        return f"arn:aws:kms:{self.region}:{self.account}:{key_id if key_id.startswith('alias/') else 'key/' + key_id}"

    def secret(self, secret_id: str) -> str:
        """A name is authorized as the secret's full ARN (with the suffix Secrets Manager appends)."""
        if secret_id.startswith("arn:"):
            return secret_id
        for arn in self.secret_arns:
            if arn.rsplit(":", 1)[-1].rsplit("-", 1)[0] == secret_id:
                return arn
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{secret_id}"


# DynamoDB transaction items and the action each needs on its table.
TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Operations authorized by another action of the same service.
ACTION_OF_OPERATION = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "AbortMultipartUpload"): "AbortMultipartUpload",
    ("s3", "DeleteObjects"): "DeleteObject",
}


def required_permissions(service: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    """What AWS authorizes a call by. `service` is the IAM prefix (botocore's signing name:
    dynamodb, sqs, events, kms, secretsmanager, s3, sns), `params` the call's parameters."""
    action = f"{service}:{ACTION_OF_OPERATION.get((service, operation), operation)}"
    rule = _RULES.get(service)
    return rule(action, operation, params, arns) if rule is not None else [Permission(action, "*")]


def _dynamodb(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    if operation == "TransactWriteItems":
        return [
            Permission(f"dynamodb:{TRANSACT_WRITE_ACTIONS[kind]}", arns.table(spec["TableName"]))
            for item in params["TransactItems"]
            for kind, spec in item.items()
        ]
    if operation == "TransactGetItems":
        return [
            Permission("dynamodb:GetItem", arns.table(item["Get"]["TableName"])) for item in params["TransactItems"]
        ]
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [Permission(action, arns.table(table)) for table in params["RequestItems"]]
    if "TableName" not in params:  # ListTables, DescribeLimits, ...
        return [Permission(action, "*")]
    table = arns.table(params["TableName"])
    index = params.get("IndexName")
    return [Permission(action, f"{table}/index/{index}" if index else table)]


def _sqs(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    queue = params.get("QueueUrl") or params.get("QueueName")
    return [Permission(action, arns.queue(queue) if queue else "*")]


def _events(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    if operation == "PutEvents":
        buses = sorted({str(entry.get("EventBusName") or "default") for entry in params["Entries"]})
        return [Permission(action, arns.event_bus(bus)) for bus in buses]
    bus = params.get("Name") or params.get("EventBusName")
    return [Permission(action, arns.event_bus(bus) if bus else "*")]


def _kms(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    key = params.get("KeyId")
    return [Permission(action, arns.key(key) if key else "*")]


def _secretsmanager(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    secret = params.get("SecretId")
    return [Permission(action, arns.secret(secret) if secret else "*")]


def _s3(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    bucket = params.get("Bucket")
    if not bucket:
        return [Permission(action, "*")]
    if action == "s3:ListBucket":
        prefix = params.get("Prefix")
        return [Permission(action, f"arn:aws:s3:::{bucket}", (("s3:prefix", prefix),) if prefix is not None else ())]
    if operation == "DeleteObjects":
        return [Permission(action, f"arn:aws:s3:::{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    key = params.get("Key")
    return [Permission(action, f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}")]


def _sns(action: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Permission]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    if not topic and params.get("SubscriptionArn"):
        topic = str(params["SubscriptionArn"]).rsplit(":", 1)[0]  # arn:...:topic:subscription-id
    return [Permission(action, topic or "*")]


_RULES: dict[str, Callable[[str, str, dict[str, Any], Arns], list[Permission]]] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "events": _events,
    "kms": _kms,
    "secretsmanager": _secretsmanager,
    "s3": _s3,
    "sns": _sns,
}


# ----------------------------------------------------------------------------- policies


def _sam_template_statements(name: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The SAM policy templates the template uses (or may), expanded as SAM's policy_templates.json
    documents them; ${AWS::Region}-style references are resolved afterwards with the rest."""
    prefix = "arn:${AWS::Partition}"
    where = "${AWS::Region}:${AWS::AccountId}"

    def sub(text: str, **values: Any) -> dict[str, Any]:
        return {"Fn::Sub": [text, values]}

    if name == "SQSSendMessagePolicy":
        resource = sub(f"{prefix}:sqs:{where}:${{queueName}}", queueName=args["QueueName"])
        return [{"Effect": "Allow", "Action": ["sqs:SendMessage*"], "Resource": resource}]
    if name == "SQSPollerPolicy":
        resource = sub(f"{prefix}:sqs:{where}:${{queueName}}", queueName=args["QueueName"])
        actions = [
            "sqs:ChangeMessageVisibility",
            "sqs:ChangeMessageVisibilityBatch",
            "sqs:DeleteMessage",
            "sqs:DeleteMessageBatch",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ]
        return [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    if name == "EventBridgePutEventsPolicy":
        resource = sub(f"{prefix}:events:{where}:event-bus/${{eventBusName}}", eventBusName=args["EventBusName"])
        return [{"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": resource}]
    if name == "AWSSecretsManagerGetSecretValuePolicy":
        return [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": args["SecretArn"]}]
    if name == "KMSDecryptPolicy":
        resource = sub(f"{prefix}:kms:{where}:key/${{keyId}}", keyId=args["KeyId"])
        return [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": resource}]
    if name in {"DynamoDBCrudPolicy", "DynamoDBReadPolicy"}:
        table = f"{prefix}:dynamodb:{where}:table/${{tableName}}"
        resources = [sub(table, tableName=args["TableName"]), sub(table + "/index/*", tableName=args["TableName"])]
        read = ["GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"]
        write = ["DeleteItem", "PutItem", "UpdateItem", "BatchWriteItem", "ConditionCheckItem"]
        actions = [f"dynamodb:{a}" for a in (read + write if name == "DynamoDBCrudPolicy" else read)]
        return [{"Effect": "Allow", "Action": actions, "Resource": resources}]
    raise ValueError(f"unsupported SAM policy template {name}: expand it in tests/support/iam_policy.py")


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


@cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters (`/` and `:` included), `?` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def _matches(patterns: Iterable[str], value: str, *, ignore_case: bool = False) -> bool:
    return any(_pattern(p, ignore_case).fullmatch(value) for p in patterns)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Statement:
        unsupported = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unsupported:
            raise ValueError(f"unsupported policy statement keys {sorted(unsupported)}")
        conditions = tuple(
            (operator, key, _listed(values))
            for operator, tests in (raw.get("Condition") or {}).items()
            for key, values in tests.items()
        )
        return cls(str(raw["Effect"]), _listed(raw["Action"]), _listed(raw["Resource"]), conditions)

    def applies(self, permission: Permission) -> bool:
        return (
            _matches(self.actions, permission.action, ignore_case=True)
            and _matches(self.resources, permission.resource)
            and all(_condition_holds(op, key, values, dict(permission.context)) for op, key, values in self.conditions)
        )


def _condition_holds(operator: str, key: str, values: tuple[str, ...], context: dict[str, str]) -> bool:
    """The String* and Bool operators; a key the request does not carry fails the condition (as on
    AWS, for all but the ...IfExists forms), and an operator this check does not know raises."""
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if key not in context:
        return if_exists
    actual = context[key]
    if base == "StringEquals":
        return actual in values
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringLike":
        return _matches(values, actual)
    if base == "StringNotLike":
        return not _matches(values, actual)
    if base == "Bool":
        return actual.lower() in {v.lower() for v in values}
    raise ValueError(f"unsupported condition operator {operator}")


@dataclass(frozen=True)
class FunctionPolicies:
    """Every function's identity policy statements, the template's intrinsics resolved."""

    statements: dict[str, tuple[Statement, ...]]
    arns: Arns

    @classmethod
    def from_template(cls, resolver: Resolver) -> FunctionPolicies:
        functions = resources_of_type(resolver.template, "AWS::Serverless::Function")
        return cls(
            {logical_id: tuple(_statements(resolver, spec)) for logical_id, spec in functions.items()},
            Arns.of(resolver),
        )

    def allows(self, function: str, permission: Permission) -> bool:
        """Allowed by some Allow statement and by no Deny statement (IAM's evaluation, one policy set)."""
        statements = self.statements[function]
        if any(s.effect == "Deny" and s.applies(permission) for s in statements):
            return False
        return any(s.effect == "Allow" and s.applies(permission) for s in statements)

    def denied(self, calls: Iterable[tuple[str, Permission]]) -> list[tuple[str, Permission]]:
        """The (function, permission) pairs its policy does not allow, sorted and without repeats."""
        return sorted({(function, p) for function, p in calls if not self.allows(function, p)})


def _statements(resolver: Resolver, spec: dict[str, Any]) -> Iterator[Statement]:
    properties = spec.get("Properties", {})
    if "Role" in properties:
        raise ValueError("functions with an explicit Role are not supported: the check reads `Policies`")
    policies = properties.get("Policies", [])
    for policy in policies if isinstance(policies, list) else [policies]:
        if not isinstance(policy, dict):
            raise ValueError(f"unsupported policy {policy!r} (managed policies are not read)")
        for name, body in policy.items():
            if name == "Version":
                continue
            raw = body if name == "Statement" else _sam_template_statements(name, body)
            for statement in raw if isinstance(raw, list) else [raw]:
                yield Statement.parse(resolver.resolve(statement))
