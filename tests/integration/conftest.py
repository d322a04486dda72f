from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.api import Caller, LambdaApi
from tests.support.billing import local_stripe  # noqa: F401 - fixture (billing-stripe)
from tests.support.tenants import new_tenant
from tests.support.trading import point_binance_at, point_kraken_at  # noqa: F401 - fixtures for every test


@pytest.fixture(scope="session")
def auth_handler() -> Any:
    from functions.auth_api.app import lambda_handler

    return lambda_handler


@pytest.fixture(scope="session")
def webhooks_handler() -> Any:
    from functions.webhooks_api.app import lambda_handler

    return lambda_handler


@pytest.fixture(scope="session")
def bots_handler() -> Any:
    from functions.bots_api.app import lambda_handler

    return lambda_handler


@pytest.fixture
def tenant_a(auth_handler: Any) -> Caller:
    return new_tenant(auth_handler)[0]


@pytest.fixture
def tenant_b(auth_handler: Any) -> Caller:
    return new_tenant(auth_handler)[0]


@pytest.fixture
def bots_a(bots_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(bots_handler, tenant_a)


@pytest.fixture
def bots_b(bots_handler: Any, tenant_b: Caller) -> LambdaApi:
    return LambdaApi(bots_handler, tenant_b)


class BusTap:
    """An SQS queue subscribed (by an EventBridge rule) to every event on the domain bus."""

    def __init__(self) -> None:
        self.events_client = boto3.client("events")
        self.sqs = boto3.client("sqs")
        self.bus = os.environ["EVENT_BUS_NAME"]
        suffix = secrets.token_hex(4)
        self.rule = f"tap-{suffix}"
        self.queue_url = self.sqs.create_queue(QueueName=f"tap-{suffix}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.events_client.put_rule(
            Name=self.rule, EventBusName=self.bus, EventPattern=json.dumps({"source": ["cryptoorchestrator"]})
        )
        self.events_client.put_targets(
            Rule=self.rule, EventBusName=self.bus, Targets=[{"Id": "tap", "Arn": arn["Attributes"]["QueueArn"]}]
        )
        self.seen: list[dict[str, Any]] = []

    def drain(self, expect: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Envelopes received so far (waiting up to `timeout` for at least `expect`)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            for message in messages:
                self.seen.append(json.loads(message["Body"])["detail"])
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(self.seen) >= expect or time.monotonic() > deadline:
                return self.seen
            if not messages:
                time.sleep(0.05)

    def of_tenant(self, tenant_id: str, expect: int = 0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 5
        while True:
            found = [e for e in self.drain() if e["tenant_id"] == tenant_id]
            if len(found) >= expect or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self.events_client.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["tap"])
        self.events_client.delete_rule(Name=self.rule, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


@pytest.fixture
def bus_tap() -> Iterator[BusTap]:
    tap = BusTap()
    yield tap
    tap.close()
