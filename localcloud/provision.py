"""Creates every table, queue, bucket, bus, rule, topic and secret that template.yaml declares, on the
embedded AWS endpoint, and records what Ref/GetAtt of each resolve to."""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from localcloud.sns_bridge import bridge_target
from localcloud.template import PhysicalResource, Resolver, resources_of_type

ACCOUNT_ID = "123456789012"


def _client(service: str, endpoint: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def _physical_name(resolver: Resolver, logical_id: str) -> str:
    return f"{resolver.stack_name}-{logical_id}"


def provision(resolver: Resolver, endpoint: str) -> None:
    """Create resources in dependency order; fills `resolver.resources`."""
    template = resolver.template
    region, account = resolver.region, resolver.account_id
    _name_functions_and_apis(resolver)
    _create_secrets(resolver, endpoint)
    _create_keys(resolver, endpoint)
    _create_tables(resolver, endpoint)
    _create_queues(resolver, endpoint)
    _create_topics(resolver, endpoint)
    _create_buckets(resolver, endpoint)

    events = _client("events", endpoint, region)
    for logical_id, spec in resources_of_type(template, "AWS::Events::EventBus").items():
        name = resolver.resolve(spec["Properties"]["Name"])
        events.create_event_bus(Name=name)
        arn = f"arn:aws:events:{region}:{account}:event-bus/{name}"
        resolver.resources[logical_id] = PhysicalResource(ref=name, attributes={"Arn": arn, "Name": name})

    for logical_id, spec in resources_of_type(template, "AWS::Events::Rule").items():
        props = resolver.resolve(spec["Properties"])
        name = props.get("Name") or _physical_name(resolver, logical_id)
        bus = props.get("EventBusName", "default")
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
        )
        targets = [
            bridge_target(resolver, endpoint, logical_id, name, t)
            if ":sns:" in t["Arn"]
            else {"Id": t["Id"], "Arn": t["Arn"]}
            for t in props.get("Targets", [])
        ]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        arn = f"arn:aws:events:{region}:{account}:rule/{bus}/{name}"
        resolver.resources[logical_id] = PhysicalResource(ref=name, attributes={"Arn": arn})

    sns = _client("sns", endpoint, region)
    for spec in resources_of_type(template, "AWS::SNS::Subscription").values():
        props = resolver.resolve(spec["Properties"])
        sns.subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"])


def _name_functions_and_apis(resolver: Resolver) -> None:
    region, account = resolver.region, resolver.account_id
    for logical_id in resources_of_type(resolver.template, "AWS::Serverless::Function"):
        name = _physical_name(resolver, logical_id)
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        resolver.resources[logical_id] = PhysicalResource(ref=name, attributes={"Arn": arn})
    for logical_id in resources_of_type(resolver.template, "AWS::Serverless::Api"):
        resolver.resources[logical_id] = PhysicalResource(ref="localapi", attributes={"RootResourceId": "root"})
    for logical_id in resources_of_type(resolver.template, "AWS::Serverless::LayerVersion"):
        arn = f"arn:aws:lambda:{region}:{account}:layer:{logical_id}:1"
        resolver.resources[logical_id] = PhysicalResource(ref=arn)


def _create_secrets(resolver: Resolver, endpoint: str) -> None:
    client = _client("secretsmanager", endpoint, resolver.region)
    for logical_id, spec in resources_of_type(resolver.template, "AWS::SecretsManager::Secret").items():
        props = resolver.resolve(spec.get("Properties", {}))
        length = int(props.get("GenerateSecretString", {}).get("PasswordLength", 64))
        value = props.get("SecretString") or secrets.token_urlsafe(length)[:length]
        created = client.create_secret(
            Name=props.get("Name") or _physical_name(resolver, logical_id), SecretString=value
        )
        resolver.resources[logical_id] = PhysicalResource(ref=created["ARN"], attributes={"Id": created["ARN"]})


def _create_keys(resolver: Resolver, endpoint: str) -> None:
    client = _client("kms", endpoint, resolver.region)
    for logical_id, spec in resources_of_type(resolver.template, "AWS::KMS::Key").items():
        description = str(spec.get("Properties", {}).get("Description", logical_id))
        metadata = client.create_key(Description=description)["KeyMetadata"]
        resolver.resources[logical_id] = PhysicalResource(
            ref=metadata["KeyId"], attributes={"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}
        )


def _create_tables(resolver: Resolver, endpoint: str) -> None:
    client = _client("dynamodb", endpoint, resolver.region)
    for logical_id, spec in resources_of_type(resolver.template, "AWS::DynamoDB::Table").items():
        props = resolver.resolve(spec["Properties"])
        name = props.get("TableName") or _physical_name(resolver, logical_id)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(indexes):
                kwargs[indexes] = props[indexes]
        client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        arn = f"arn:aws:dynamodb:{resolver.region}:{resolver.account_id}:table/{name}"
        resolver.resources[logical_id] = PhysicalResource(ref=name, attributes={"Arn": arn})


def _create_queues(resolver: Resolver, endpoint: str) -> None:
    """Queues that others name as dead-letter target first, then the rest."""
    client = _client("sqs", endpoint, resolver.region)
    queues = resources_of_type(resolver.template, "AWS::SQS::Queue")
    pending = dict(queues)
    while pending:
        progressed = False
        for logical_id, spec in list(pending.items()):
            try:
                props = resolver.resolve(spec.get("Properties", {}))
            except KeyError:
                continue  # its dead-letter queue does not exist yet
            fifo = bool(props.get("FifoQueue"))
            name = props.get("QueueName") or _physical_name(resolver, logical_id) + (".fifo" if fifo else "")
            attributes = {
                key: (
                    json.dumps(value)
                    if isinstance(value, dict)
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
                for key, value in props.items()
                if key not in {"QueueName", "Tags"}
            }
            url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = f"arn:aws:sqs:{resolver.region}:{resolver.account_id}:{name}"
            resolver.resources[logical_id] = PhysicalResource(
                ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url}
            )
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise RuntimeError(f"queues with unresolvable properties: {sorted(pending)}")


def _create_topics(resolver: Resolver, endpoint: str) -> None:
    client = _client("sns", endpoint, resolver.region)
    for logical_id, spec in resources_of_type(resolver.template, "AWS::SNS::Topic").items():
        props = resolver.resolve(spec.get("Properties", {}))
        name = props.get("TopicName") or _physical_name(resolver, logical_id)
        attributes = {"FifoTopic": "true"} if props.get("FifoTopic") else {}
        arn = client.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        resolver.resources[logical_id] = PhysicalResource(ref=arn, attributes={"TopicArn": arn, "TopicName": name})


def _create_buckets(resolver: Resolver, endpoint: str) -> None:
    """Buckets by name (lower case, as S3 requires), with the encryption the template asks for;
    bucket policies and lifecycle rules are not reproduced (moto enforces neither)."""
    client = _client("s3", endpoint, resolver.region)
    for logical_id, spec in resources_of_type(resolver.template, "AWS::S3::Bucket").items():
        props = resolver.resolve(spec.get("Properties", {}))
        name = props.get("BucketName") or _physical_name(resolver, logical_id).lower()
        client.create_bucket(Bucket=name)
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
        if rules:  # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault
            api_rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]} for r in rules]
            client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": api_rules})
        resolver.resources[logical_id] = PhysicalResource(
            ref=name, attributes={"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
        )
