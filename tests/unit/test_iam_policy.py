"""The IAM evaluator behind the e2e tier's policy check: what a call needs, what a policy allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.template import PhysicalResource, Resolver, load_template
from tests.support.iam_policy import Arns, FunctionPolicies, Permission, required_permissions

REGION, ACCOUNT = "us-east-1", "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:s-jwt-AbCdEf"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd"

TEMPLATE = """\
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Policies: &WorkerPolicies
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]
              Resource: [!GetAtt Orders.Arn, !Sub "${Orders.Arn}/index/by_status"]
            - Effect: Allow
              Action: [dynamodb:PutItem, dynamodb:ConditionCheckItem]
              Resource: !GetAtt Accounts.Arn
            - Effect: Allow
              Action: [kms:Decrypt]
              Resource: !GetAtt Key.Arn
            - Effect: Allow
              Action: [s3:ListBucket]
              Resource: !GetAtt Bucket.Arn
              Condition:
                StringLike:
                  s3:prefix: ["history/*"]
            - Effect: Allow
              Action: [s3:GetObject]
              Resource: !Sub "${Bucket.Arn}/*"
            - Effect: Deny
              Action: [s3:GetObject]
              Resource: !Sub "${Bucket.Arn}/private/*"
        - SQSSendMessagePolicy:
            QueueName: !GetAtt Tasks.QueueName
        - EventBridgePutEventsPolicy:
            EventBusName: !Ref Bus
        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: !Ref Jwt
  Twin:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/twin/
      Policies: *WorkerPolicies
  Crud:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/crud/
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Orders
        - KMSDecryptPolicy:
            KeyId: !GetAtt Key.KeyId
"""


def _table(name: str) -> PhysicalResource:
    return PhysicalResource(ref=name, attributes={"Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"})


@pytest.fixture
def resolver(tmp_path: Path) -> Resolver:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    resolver = Resolver(load_template(path), REGION, ACCOUNT, "s")
    resolver.resources.update(
        {
            "Orders": _table("s-Orders"),
            "Accounts": _table("s-Accounts"),
            "Key": PhysicalResource(ref="1234abcd", attributes={"Arn": KEY_ARN, "KeyId": "1234abcd"}),
            "Bucket": PhysicalResource(ref="s-bucket", attributes={"Arn": "arn:aws:s3:::s-bucket"}),
            "Tasks": PhysicalResource(
                ref="http://aws.local/123456789012/s-tasks",
                attributes={"QueueName": "s-tasks", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:s-tasks"},
            ),
            "Bus": PhysicalResource(
                ref="s-bus", attributes={"Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/s-bus"}
            ),
            "Jwt": PhysicalResource(ref=SECRET_ARN),
        }
    )
    return resolver


@pytest.fixture
def policies(resolver: Resolver) -> FunctionPolicies:
    return FunctionPolicies.from_template(resolver)


def denied(policies: FunctionPolicies, function: str, service: str, operation: str, **params: object) -> list[str]:
    needed = required_permissions(service, operation, dict(params), policies.arns)
    assert needed, "every call needs some permission"
    return [str(p) for _, p in policies.denied((function, p) for p in needed)]


def test_a_call_its_policy_allows_passes_and_one_it_does_not_is_listed(policies: FunctionPolicies) -> None:
    assert denied(policies, "Worker", "dynamodb", "GetItem", TableName="s-Orders", Key={}) == []
    assert denied(policies, "Worker", "dynamodb", "DeleteItem", TableName="s-Orders", Key={}) == [
        f"dynamodb:DeleteItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Orders"
    ]
    assert denied(policies, "Worker", "dynamodb", "GetItem", TableName="s-Other", Key={}) == [
        f"dynamodb:GetItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Other"
    ]


def test_batch_get_needs_its_own_action_on_every_table(policies: FunctionPolicies) -> None:
    """GetItem on a table does not allow BatchGetItem there: the paper exchange's gap."""
    listed = denied(
        policies, "Worker", "dynamodb", "BatchGetItem", RequestItems={"s-Orders": {"Keys": []}, "s-Accounts": {}}
    )
    assert listed == [
        f"dynamodb:BatchGetItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Accounts",
        f"dynamodb:BatchGetItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Orders",
    ]


def test_a_query_on_an_index_needs_the_index_arn(policies: FunctionPolicies) -> None:
    assert denied(policies, "Worker", "dynamodb", "Query", TableName="s-Orders", IndexName="by_status") == []
    assert denied(policies, "Worker", "dynamodb", "Query", TableName="s-Orders", IndexName="by_tenant") == [
        f"dynamodb:Query on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Orders/index/by_tenant"
    ]
    assert denied(policies, "Worker", "dynamodb", "Query", TableName="s-Accounts", IndexName="by_status") != []


def test_a_transaction_needs_each_items_action_on_its_table(policies: FunctionPolicies) -> None:
    items = [
        {"Put": {"TableName": "s-Orders", "Item": {}}},
        {"ConditionCheck": {"TableName": "s-Accounts", "Key": {}}},
        {"Update": {"TableName": "s-Accounts", "Key": {}}},
        {"Delete": {"TableName": "s-Orders", "Key": {}}},
    ]
    assert denied(policies, "Worker", "dynamodb", "TransactWriteItems", TransactItems=items) == [
        f"dynamodb:DeleteItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Orders",
        f"dynamodb:UpdateItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Accounts",
    ]
    gets = [{"Get": {"TableName": "s-Orders", "Key": {}}}, {"Get": {"TableName": "s-Accounts", "Key": {}}}]
    assert denied(policies, "Worker", "dynamodb", "TransactGetItems", TransactItems=gets) == [
        f"dynamodb:GetItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/s-Accounts"
    ]


def test_sam_policy_templates_allow_their_documented_actions(policies: FunctionPolicies) -> None:
    queue = "http://aws.local/123456789012/s-tasks"
    assert denied(policies, "Worker", "sqs", "SendMessageBatch", QueueUrl=queue, Entries=[]) == []
    assert denied(policies, "Worker", "sqs", "DeleteMessage", QueueUrl=queue, ReceiptHandle="r") != []
    assert denied(policies, "Worker", "events", "PutEvents", Entries=[{"EventBusName": "s-bus"}]) == []
    assert denied(policies, "Worker", "events", "PutEvents", Entries=[{"Source": "x"}]) == [
        f"events:PutEvents on arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    ]
    assert denied(policies, "Worker", "secretsmanager", "GetSecretValue", SecretId="s-jwt") == []  # by name
    assert denied(policies, "Worker", "secretsmanager", "GetSecretValue", SecretId="s-other") != []
    assert denied(policies, "Crud", "dynamodb", "BatchWriteItem", RequestItems={"s-Orders": []}) == []
    assert denied(policies, "Crud", "dynamodb", "Query", TableName="s-Orders", IndexName="any") == []
    assert denied(policies, "Crud", "kms", "Decrypt", KeyId=KEY_ARN) == []
    assert denied(policies, "Crud", "kms", "Encrypt", KeyId=KEY_ARN) != []


def test_aliased_policies_are_the_same_policies(policies: FunctionPolicies) -> None:
    """`Policies: *WorkerPolicies` (a YAML alias) grants the twin exactly the worker's statements."""
    assert policies.statements["Twin"] == policies.statements["Worker"]


def test_conditions_and_denies(policies: FunctionPolicies) -> None:
    assert denied(policies, "Worker", "s3", "ListObjectsV2", Bucket="s-bucket", Prefix="history/a") == []
    assert denied(policies, "Worker", "s3", "ListObjectsV2", Bucket="s-bucket", Prefix="results/a") == [
        "s3:ListBucket on arn:aws:s3:::s-bucket [s3:prefix=results/a]"
    ]
    assert denied(policies, "Worker", "s3", "ListObjectsV2", Bucket="s-bucket") != []  # no prefix: no match
    assert denied(policies, "Worker", "s3", "HeadObject", Bucket="s-bucket", Key="results/x") == []
    assert denied(policies, "Worker", "s3", "GetObject", Bucket="s-bucket", Key="private/x") != []


def test_what_the_check_cannot_read_raises(resolver: Resolver) -> None:
    resolver.template["Resources"]["Crud"]["Properties"]["Policies"].append({"S3FullAccessPolicy": {}})
    with pytest.raises(ValueError, match="S3FullAccessPolicy"):
        FunctionPolicies.from_template(resolver)
    resolver.template["Resources"]["Crud"]["Properties"]["Policies"] = ["AmazonDynamoDBFullAccess"]
    with pytest.raises(ValueError, match="managed policies"):
        FunctionPolicies.from_template(resolver)


def test_required_permissions_of_other_services() -> None:
    arns = Arns(REGION, ACCOUNT)
    subscription = f"arn:aws:sns:{REGION}:{ACCOUNT}:topic:0f1e"
    assert required_permissions("sns", "Unsubscribe", {"SubscriptionArn": subscription}, arns) == [
        Permission("sns:Unsubscribe", f"arn:aws:sns:{REGION}:{ACCOUNT}:topic")
    ]
    assert required_permissions("kms", "GenerateDataKey", {"KeyId": "alias/k"}, arns) == [
        Permission("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/k")
    ]
    assert required_permissions("xray", "PutTraceSegments", {}, arns) == [Permission("xray:PutTraceSegments", "*")]
