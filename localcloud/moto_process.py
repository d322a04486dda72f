"""The embedded AWS endpoint in its own process, so moto's request handling no longer competes
with the handlers, pollers and gateway for one GIL.

`python -m localcloud.moto_process` installs the local cloud's moto fixes (moto_transactions,
moto_speedups, moto_sqs_fifo: they patch moto, so they must run in the process that serves the requests),
starts moto's threaded server and prints `READY <endpoint>` on stdout. It exits when its stdin
closes, which is how it learns that its parent is gone: stopped cleanly, killed or crashed, no
endpoint is left behind. `MotoProcess` starts it, waits for that line and for the endpoint to
answer a health check, and stops it.

`--wrap module:callable` wraps moto's WSGI app (a benchmark's request meter), whose answers to
`GET /localcloud/meter` the caller can then read over HTTP.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

READY = "READY "
ROOT = Path(__file__).resolve().parents[1]  # where `python -m localcloud.moto_process` resolves
HEALTH_PATH = "/moto-api/config"  # moto's own cheap JSON route


@dataclass
class MotoProcess:
    """A running `python -m localcloud.moto_process` child and its endpoint."""

    host: str = "127.0.0.1"
    port: int = 0
    wrap: tuple[str, ...] = ()
    start_timeout: float = 30.0
    endpoint: str = ""
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def start(self) -> str:
        command = [sys.executable, "-m", "localcloud.moto_process", "--host", self.host, "--port", str(self.port)]
        for spec in self.wrap:
            command += ["--wrap", spec]
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,  # its lifeline: closed when this process goes away
            stdout=subprocess.PIPE,
            text=True,
            # Not in the terminal's process group: Ctrl-C goes to the parent, which stops the
            # pollers that still talk to this endpoint first, then this child.
            start_new_session=True,
        )
        try:
            self.endpoint = _ready_line(self._process, self.start_timeout)
            _wait_healthy(self.endpoint, self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self.endpoint

    def stop(self, timeout: float = 10.0) -> None:
        """Close the lifeline and wait; terminate, then kill, if the child does not go."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        for action in (None, process.terminate, process.kill):
            if action is not None:
                action()
            try:
                process.wait(timeout=timeout / 2)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.stdout is not None:
            process.stdout.close()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid


def _ready_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The endpoint from the child's READY line (printed once its server is bound)."""
    stdout = process.stdout
    if stdout is None:
        raise RuntimeError("moto process has no stdout")
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"moto process did not report ready within {timeout:g} s")
    line = stdout.readline()
    if not line.startswith(READY):
        raise RuntimeError(f"moto process did not start (exit code {process.poll()}): {line!r}")
    return line[len(READY) :].strip()


def _wait_healthy(endpoint: str, timeout: float) -> None:
    """Until moto answers its config route (the server is bound before READY; this proves it serves)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = _get(endpoint, HEALTH_PATH, timeout=2)[0]
            if 200 <= status < 300:  # moto answers 201 here
                return
            problem = f"HTTP {status}"
        except OSError as exc:
            problem = repr(exc)
        if time.monotonic() > deadline:
            raise RuntimeError(f"moto process at {endpoint} is not healthy: {problem}")
        time.sleep(0.05)  # polling a just-bound server: in practice the first request answers


def _get(endpoint: str, path: str, timeout: float) -> tuple[int, bytes]:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _serve_until_orphaned(lifeline: IO[str]) -> None:
    """Block until stdin closes (parent stopped us or died) or SIGTERM arrives."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, after its own pollers

    def watch() -> None:
        while lifeline.read(4096):
            pass
        stop.set()

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
    stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localcloud.moto_process", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--wrap", action="append", default=[], help="module:callable wrapping moto's WSGI app")
    args = parser.parse_args(argv)

    import logging

    from localcloud.cloud import start_aws_endpoint, start_moto_trimming

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS request
    server, endpoint = start_aws_endpoint(args.host, args.port)
    wsgi = server._server
    if wsgi is None:
        raise SystemExit("moto server did not start")
    for spec in args.wrap:
        module, _, name = spec.partition(":")
        wsgi.app = getattr(importlib.import_module(module), name)(wsgi.app)
    stop_trimming = threading.Event()
    start_moto_trimming(stop_trimming)
    print(READY + endpoint, flush=True)
    _serve_until_orphaned(sys.stdin)
    stop_trimming.set()
    server.stop()
    sys.stdout.flush()
    os._exit(0)  # freeing moto's state is no part of stopping an endpoint


def meter_snapshot(endpoint: str) -> dict[str, object]:
    """What a `--wrap`ped meter answers on `GET /localcloud/meter`."""
    status, body = _get(endpoint, "/localcloud/meter", timeout=10)
    if status != 200:
        raise RuntimeError(f"no meter on the moto process (HTTP {status})")
    loaded: dict[str, object] = json.loads(body)
    return loaded


if __name__ == "__main__":
    main()
