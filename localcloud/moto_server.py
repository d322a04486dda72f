"""moto's threaded server, with HTTP keep-alive.

werkzeug's development server answers every request with `Connection: close` (http.server cannot
drain an unread request body before the next request line), so each AWS call of the handlers
paid a TCP connect, a name lookup, a new server thread and a close: a profile of the paper
pipeline's trade worker counted one `connect` per botocore request. Here each request body is
read through a reader that never reads past its Content-Length and is drained after the answer,
so the connection can safely serve the next request; botocore's connection pool then reuses it.
A chunked request, or a client that asks to close, gets werkzeug's behaviour (closed).

Dev-only, like localcloud.moto_speedups; started by localcloud.cloud.start_aws_endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer


class _BodyReader:
    """The request body: at most `length` bytes of the connection's stream, whatever is asked."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.read(wanted) if wanted else b""
        self.remaining -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        wanted = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.readline(wanted) if wanted else b""
        self.remaining -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> bool:
        """Read what the application left unread; False if the client sent less than it said."""
        while self.remaining:
            if not self.read(65536):
                return False
        return True


class _Exhausted:
    """What werkzeug's after-response drain reads instead of the connection: nothing. (It reads
    whatever arrives within 10 ms, which on a kept-alive connection is the next request.)"""

    def read(self, size: int | None = -1) -> bytes:
        return b""


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests."""

    # Headers and body go out as two writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK of the headers (40 ms) on every kept-alive request.
    disable_nagle_algorithm = True
    _body: _BodyReader | None = None
    _connection_stream: BinaryIO | None = None

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if self._connection_stream is not None:
            self._body = _BodyReader(self._connection_stream, int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = self._body
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._body is not None:
            return  # werkzeug closes every connection; this request's body is framed: keep it
        super().send_header(keyword, value)

    def run_wsgi(self) -> None:
        framed = (
            self.request_version == "HTTP/1.1"
            and not self.close_connection
            and "chunked" not in self.headers.get("Transfer-Encoding", "").lower()
        )
        if not framed:  # werkzeug's way: answer, then close
            super().run_wsgi()
            return
        stream = self.rfile
        self._connection_stream = stream  # type: ignore[assignment]  # a BufferedReader of the socket
        self.rfile = _Exhausted()  # type: ignore[assignment]
        try:
            super().run_wsgi()
        finally:
            self.rfile = stream
            body, self._body, self._connection_stream = self._body, None, None
        if body is None or not body.drain():
            self.close_connection = True


class KeepAliveMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer serving through KeepAliveRequestHandler."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        server: BaseWSGIServer = make_server(
            self._ip_address, self._port, app, True, request_handler=KeepAliveRequestHandler
        )
        self._server = server
        self._server_ready_event.set()
        server.serve_forever()
