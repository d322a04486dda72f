"""The local cloud's AWS endpoint in its own process: it serves AWS, and never outlives its parent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import boto3
import pytest

from localcloud.moto_process import MotoProcess
from tests.support.processes import process_ends


@pytest.fixture
def moto_process() -> Iterator[MotoProcess]:
    process = MotoProcess()
    process.start()
    yield process
    process.stop()


def test_the_endpoint_is_another_process_that_serves_aws(moto_process: MotoProcess) -> None:
    assert moto_process.pid is not None and moto_process.pid != os.getpid()
    sqs = boto3.client("sqs", endpoint_url=moto_process.endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="in-its-own-process")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]
    # ... and not this process's moto: the session's endpoint has no such queue.
    assert "in-its-own-process" not in str(boto3.client("sqs").list_queues().get("QueueUrls", []))


def test_stop_ends_the_process() -> None:
    process = MotoProcess()
    process.start()
    pid = process.pid
    assert pid is not None
    process.stop()
    assert process_ends(pid, timeout=10)
    assert process.pid is None


def test_the_endpoint_exits_when_its_parent_is_killed() -> None:
    """No orphan even when the parent cannot clean up (SIGKILL): the child's stdin closes."""
    parent_code = textwrap.dedent(
        """
        import sys
        from localcloud.moto_process import MotoProcess
        process = MotoProcess()
        process.start()
        print(process.pid, flush=True)
        sys.stdin.read()  # until the test kills us
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not process_ends(child_pid, timeout=0)
        parent.kill()
        parent.wait(timeout=10)
        assert process_ends(child_pid, timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
        for stream in (parent.stdin, parent.stdout):
            if stream is not None:
                stream.close()


def test_a_process_that_does_not_start_reports_why() -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        MotoProcess(wrap=("no_such_module:App",)).start()
