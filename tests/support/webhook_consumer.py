"""A webhook consumer on 127.0.0.1 for tests and benchmarks: records every request and answers
from a script (a status per request, or holding the request open to make the sender time out)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

HOLD = -1  # a scripted "status" that never answers until the consumer stops


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    consumer: ClassVar[WebhookConsumer]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        status = self.consumer._record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if status == HOLD:
            self.consumer._released.wait(30)
            return
        self.send_response(status)
        if 300 <= status < 400 and self.consumer.redirect_to:
            self.send_header("Location", self.consumer.redirect_to)
        self.send_header("Content-Length", "0")
        self.end_headers()


class WebhookConsumer:
    def __init__(self, default_status: int = 200) -> None:
        self.default_status = default_status
        self.redirect_to = ""  # the Location of scripted 3xx answers
        self.script: deque[int] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._arrived = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None

    def _record(self, received: Received) -> int:
        with self._arrived:
            self.received.append(received)
            self._arrived.notify_all()
            return self.script.popleft() if self.script else self.default_status

    def answer(self, *statuses: int) -> None:
        """The next requests get these statuses (HOLD: no answer), then `default_status`."""
        with self._lock:
            self.script.extend(statuses)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` requests arrived (a condition variable, not polling)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def start(self) -> Self:
        handler = type("_Bound", (_Handler,), {"consumer": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/hooks"
