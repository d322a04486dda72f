"""functions/example_consumer: SNS pushes through API Gateway, verified with the consumer kit
(messages signed with a key and certificate made here, as in test_consumer_kit_sns)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from consumer_kit.sns import SnsMessage
from localcloud.functions import FakeLambdaContext
from localcloud.template import load_template, resources_of_type
from tests.unit.test_consumer_kit_sns import (
    EVENT,
    NOW,
    TOPIC,
    Fetcher,
    Signer,
    confirmation,
    notification,
    self_signed,
    verifier_for,
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, self_signed(key, not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=300)))


@pytest.fixture
def app(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Any:
    from functions.example_consumer import app as module

    monkeypatch.setattr(module, "verifier", verifier_for(Fetcher(signer.pem)))
    module.seen.clear()
    return module


def push(app: Any, message: dict[str, Any]) -> int:
    event = {"body": json.dumps(message), "isBase64Encoded": False, "headers": {}, "requestContext": {}}
    result: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext("example-consumer", 128, 10))
    return int(result["statusCode"])


def test_a_signed_notification_is_accepted_once(app: Any, signer: Signer) -> None:
    message = signer.sign(notification(), "2")
    assert push(app, message) == 200
    assert push(app, message) == 200  # a redelivery: accepted, not processed twice
    assert app.seen == {EVENT["id"]}


@pytest.mark.parametrize(
    "change",
    [
        {"Message": json.dumps({**EVENT, "tenant_id": "ten_other"})},
        {"TopicArn": TOPIC + "-other"},
        {"SigningCertURL": "http://sns.eu-west-1.amazonaws.com/x.pem"},
    ],
)
def test_tampered_or_foreign_messages_are_400(app: Any, signer: Signer, change: dict[str, str]) -> None:
    message = {**signer.sign(notification(), "2"), **change}
    assert push(app, message) == 400
    assert app.seen == set()


def test_a_subscription_confirmation_is_confirmed(app: Any, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    confirmed: list[SnsMessage] = []
    monkeypatch.setattr(app, "confirm", confirmed.append)
    assert push(app, signer.sign(confirmation(), "1")) == 200
    assert [m.topic_arn for m in confirmed] == [TOPIC]


def test_the_example_is_off_unless_the_parameter_turns_it_on() -> None:
    template = load_template()
    assert "ExampleConsumerFunction" not in resources_of_type(template, "AWS::Serverless::Function")
    template["Parameters"]["ExampleConsumer"]["Default"] = "true"
    assert "ExampleConsumerFunction" in resources_of_type(template, "AWS::Serverless::Function")
