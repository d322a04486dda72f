"""EventBridge rules that target an SNS topic, on the embedded endpoint.

moto's EventBridge cannot deliver to a topic (its PutEvents fails for every event once a rule
has an SNS target), so the local cloud points such a target at a bridge queue instead, and a
thread publishes each event from it to the topic, applying the target's `InputPath` as
EventBridge would. moto's SNS then pushes to http(s) subscribers synchronously inside that
publish, one at a time and without SNS's delivery retries: locally a slow subscriber delays the
others on the topic (on AWS each is delivered independently). Filter policies (MessageBody
scope included) and SQS subscribers behave as on AWS.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import boto3

from localcloud.template import PhysicalResource, Resolver

_MARK = "#SnsBridge"


def bridge_target(
    resolver: Resolver, endpoint: str, rule_logical_id: str, rule_name: str, target: dict[str, Any]
) -> dict[str, Any]:
    """The moto target to use for `target` (an SNS topic): a bridge queue, recorded for the poller."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=resolver.region)
    name = f"{rule_name}-{target['Id']}-sns-bridge"[:80]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{resolver.region}:{resolver.account_id}:{name}"
    resolver.resources[f"{rule_logical_id}{_MARK}{target['Id']}"] = PhysicalResource(
        ref=url, attributes={"TopicArn": target["Arn"], "InputPath": target.get("InputPath", "")}
    )
    return {"Id": target["Id"], "Arn": arn}


def _apply_input_path(event: dict[str, Any], path: str) -> Any:
    if not path or path == "$":
        return event
    if not path.startswith("$."):
        raise ValueError(f"unsupported InputPath {path!r}")
    value: Any = event
    for part in path[2:].split("."):
        value = value[part]
    return value


class SnsBridgePoller(threading.Thread):
    def __init__(
        self, queue_url: str, topic_arn: str, input_path: str, endpoint: str, region: str, stop: threading.Event
    ) -> None:
        super().__init__(name=f"sns-bridge-{topic_arn.rsplit(':', 1)[-1]}", daemon=True)
        self.queue_url = queue_url
        self.topic_arn = topic_arn
        self.input_path = input_path
        self.stop_event = stop
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
        self.sns = boto3.client("sns", endpoint_url=endpoint, region_name=region)

    def poll_once(self, wait_seconds: int = 1) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        if not messages:
            return 0
        entries = []
        for index, message in enumerate(messages):
            payload = _apply_input_path(json.loads(message["Body"]), self.input_path)
            entries.append({"Id": str(index), "Message": payload if isinstance(payload, str) else json.dumps(payload)})
        # One PublishBatch and one DeleteMessageBatch per receive (not two requests per event): on
        # AWS this hop costs nothing, so locally it should cost the endpoint as little as it can.
        published = self.sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
        done = [messages[int(entry["Id"])] for entry in published.get("Successful", [])]
        for failure in published.get("Failed", []):  # left in the queue: redelivered after its visibility timeout
            print(f"[sns-bridge] publish failed: {failure.get('Code')}", file=sys.stderr)
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep bridging: the endpoint may be shutting down
                if not self.stop_event.is_set():
                    print(f"[sns-bridge] {type(exc).__name__}: {exc}", file=sys.stderr)
                    self.stop_event.wait(1)


def sns_bridges(resolver: Resolver, endpoint: str, stop: threading.Event) -> list[SnsBridgePoller]:
    return [
        SnsBridgePoller(
            resource.ref,
            resource.attributes["TopicArn"],
            resource.attributes["InputPath"],
            endpoint,
            resolver.region,
            stop,
        )
        for logical_id, resource in resolver.resources.items()
        if _MARK in logical_id
    ]
