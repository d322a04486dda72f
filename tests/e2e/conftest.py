"""Starts the local cloud (`python -m localcloud`) as a separate process and talks to it over HTTP.

It runs under tests.support.localcloud_iam, so every module of this tier is also an IAM check: when
its cloud stops, each AWS call a function made must be one its policy in template.yaml allows (moto
does not enforce IAM; AWS would answer AccessDenied), or the module fails at teardown with the list.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.api import Reply
from tests.support.processes import process_ends

ROOT = Path(__file__).resolve().parents[2]
LOCALCLOUD_OPTIONS = ("--port", "0", "--speed", "60", "--state-file")  # the state file's path follows


@dataclass
class LocalCloudProcess:
    api_url: str
    aws_endpoint: str
    stack_name: str
    demo: dict[str, Any]
    process: subprocess.Popen[str]
    aws_pid: int
    stripe_url: str = ""  # billing-stripe: the local Stripe server

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.api_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read().decode())

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def iam_denials(report: Path) -> list[str]:
    """The calls the local cloud's functions made that their template policies do not allow, as
    lines to read; raises when the report shows no call was checked (the check would be vacuous)."""
    if not report.exists():
        raise AssertionError(f"the local cloud stopped without writing its IAM report (see {report.parent})")
    result = json.loads(report.read_text())
    if not result["calls"]:
        raise AssertionError(f"the IAM check recorded no function's AWS call ({report})")
    denied: list[str] = result["denied"]
    return denied


@pytest.fixture(scope="module")  # stopped after its module, not left running through the suite
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    state = tmp_path_factory.mktemp("localcloud") / "state.json"
    iam_report = state.parent / "iam.json"
    log = (state.parent / "localcloud.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.localcloud_iam", str(iam_report), *LOCALCLOUD_OPTIONS, str(state)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("local cloud did not start: " + (state.parent / "localcloud.log").read_text())
        time.sleep(0.2)
    info = json.loads(state.read_text())
    yield LocalCloudProcess(
        info["api_url"],
        info["aws_endpoint"],
        info["stack_name"],
        info["demo"],
        process,
        info["aws_pid"],
        info.get("stripe_url") or "",
    )
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(timeout=20) == 0, "the local cloud did not stop cleanly on Ctrl-C"
        assert process_ends(info["aws_pid"], timeout=0), "Ctrl-C left the AWS endpoint's process running"
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    denied = iam_denials(iam_report)
    if denied:
        pytest.fail(
            "AWS calls the functions' policies in template.yaml do not allow (AccessDenied on AWS):\n  "
            + "\n  ".join(denied),
            pytrace=False,
        )
