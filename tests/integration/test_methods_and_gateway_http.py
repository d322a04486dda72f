"""Unsupported methods answer 405 in our error shape with a correct `Allow`, from the FastAPI apps
and from the local cloud's gateway; the gateway's HTTP server drops stalled clients and stays
quiet about clients that hang up."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from localcloud.gateway import Gateway, make_http_server
from tests.support.api import LambdaApi
from tests.support.aws import TestCloud
from tests.support.payloads import bot

# ---------------------------------------------------------------- FastAPI apps


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("PUT", "/bots", "GET, POST"),
        ("TRACE", "/bots", "GET, POST"),
        ("OPTIONS", "/bots", "GET, POST"),
        ("BREW", "/bots/{id}", "DELETE, GET, PATCH"),
        ("GET", "/bots/{id}/start", "POST"),
    ],
)
def test_apps_answer_405_with_every_allowed_method(bots_a: LambdaApi, method: str, path: str, allow: str) -> None:
    bot_id = bots_a.post("/bots", body=bot(), headers={"Idempotency-Key": "k-" + method + path}).json["id"]
    reply = bots_a.request(method, path.replace("{id}", bot_id))
    assert reply.status == 405, reply.text
    assert reply.error_code == "method_not_allowed"
    assert reply.headers["allow"] == allow
    assert set(reply.json["error"]) == {"code", "message", "details"}


# ---------------------------------------------------------------- the local gateway over HTTP


@pytest.fixture
def gateway_server(test_cloud: TestCloud) -> Iterator[ThreadingHTTPServer]:
    gateway = Gateway(test_cloud.resolver, test_cloud.functions)
    server = make_http_server(gateway, "127.0.0.1", 0, quiet=True, read_timeout=0.5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _exchange(server: ThreadingHTTPServer, raw: bytes) -> bytes:
    """Send `raw`, read until the server closes the connection (a hang fails on the 10 s timeout)."""
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as conn:
        conn.sendall(raw)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def _parse(response: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("TRACE", "/v1/health", "GET"),
        ("POST", "/v1/openapi.json", "GET"),
        ("GET", "/v1/signals/bot_x", "POST"),
        ("PROPFIND", "/v1/auth/login", "POST"),
    ],
)
def test_gateway_answers_405_with_allow(
    gateway_server: ThreadingHTTPServer, method: str, path: str, allow: str
) -> None:
    raw = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    status, headers, body = _parse(_exchange(gateway_server, raw))
    assert (status, headers["allow"]) == (405, allow)
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"] == "method_not_allowed"  # type: ignore[index]


def test_gateway_unknown_path_with_any_method_is_route_not_found(gateway_server: ThreadingHTTPServer) -> None:
    raw = b"TRACE /v1/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, _, body = _parse(_exchange(gateway_server, raw))
    assert status == 404 and body["error"]["code"] == "route_not_found"  # type: ignore[index]


def test_a_body_shorter_than_its_content_length_does_not_hold_the_connection(
    gateway_server: ThreadingHTTPServer,
) -> None:
    raw = b'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"email"'
    assert _exchange(gateway_server, raw) == b""  # closed after the read timeout, nothing invoked


def test_a_client_that_hangs_up_leaves_no_traceback(
    gateway_server: ThreadingHTTPServer, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as conn:
        for error in (ConnectionResetError(), BrokenPipeError(), TimeoutError()):
            try:
                raise error
            except OSError:
                gateway_server.handle_error(conn, ("127.0.0.1", 1))
    assert capfd.readouterr().err == ""
