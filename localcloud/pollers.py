"""SQS event-source pollers: what Lambda's event source mapping does, on the embedded endpoint.

Each poller receives up to BatchSize messages, invokes the function with a real SQS batch event
and deletes what succeeded: everything, or everything but `batchItemFailures` when the function
reports partial failures. A raised error leaves the whole batch to the visibility timeout, so
redelivery and the queue's dead-letter redrive behave as on AWS.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import boto3

from localcloud.functions import FunctionSpec
from localcloud.template import Resolver

LOCAL_MAX_CONCURRENCY = 4


class SqsPoller(threading.Thread):
    def __init__(
        self,
        function: FunctionSpec,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        partial_batch: bool,
        endpoint: str,
        region: str,
        stop: threading.Event,
        concurrent: bool = False,
        index: int = 0,
    ) -> None:
        super().__init__(name=f"sqs-poller-{function.logical_id}-{index}", daemon=True)
        self.concurrent = concurrent  # one of several pollers invoking in parallel (ScalingConfig)
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = max(1, min(batch_size, 10))
        self.partial_batch = partial_batch
        self.region = region
        self.stop_event = stop
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
        self.invocations = 0

    def poll_once(self, wait_seconds: int = 1) -> int:
        """One receive-invoke-delete cycle; returns how many messages were received."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        event = {"Records": [self._record(m) for m in received]}
        self.invocations += 1
        try:
            result = self.function.invoke(event, exclusive=not self.concurrent)
        except Exception as exc:
            print(f"[sqs] {self.function.logical_id} raised {type(exc).__name__}: {exc}", file=sys.stderr)
            return len(received)
        failed: set[str] = set()
        if self.partial_batch and isinstance(result, dict):
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(received)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep polling: the endpoint may be shutting down
                if not self.stop_event.is_set():
                    print(f"[sqs] poll failed: {exc}", file=sys.stderr)
                    self.stop_event.wait(1)


def sqs_pollers(
    resolver: Resolver, functions: dict[str, FunctionSpec], endpoint: str, stop: threading.Event
) -> list[SqsPoller]:
    pollers: list[SqsPoller] = []
    for function in functions.values():
        for event in function.events.values():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            queue_arn = resolver.resolve(props["Queue"])
            logical = props["Queue"]["Fn::GetAtt"][0]
            queue_url = resolver.get_att(logical, "QueueUrl")
            partial = "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
            # ScalingConfig.MaximumConcurrency: that many batches in flight on AWS; a few here.
            count = min(LOCAL_MAX_CONCURRENCY, int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 1)))
            pollers.extend(
                SqsPoller(
                    function,
                    queue_url,
                    queue_arn,
                    int(props.get("BatchSize", 10)),
                    partial,
                    endpoint,
                    resolver.region,
                    stop,
                    concurrent=count > 1,
                    index=i,
                )
                for i in range(count)
            )
    return pollers
