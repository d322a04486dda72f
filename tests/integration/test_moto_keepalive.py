"""The local AWS endpoint keeps HTTP/1.1 connections open, and a kept connection stays in step."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

LIST_TABLES = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture
def connection() -> Iterator[http.client.HTTPConnection]:
    endpoint = urlsplit(os.environ["AWS_ENDPOINT_URL"])
    conn = http.client.HTTPConnection(endpoint.hostname or "127.0.0.1", endpoint.port or 80, timeout=10)
    yield conn
    conn.close()


def _list_tables(conn: http.client.HTTPConnection) -> tuple[http.client.HTTPResponse, object]:
    conn.request("POST", "/", body=json.dumps({}), headers=LIST_TABLES)
    response = conn.getresponse()
    return response, json.loads(response.read())


def test_one_connection_serves_several_requests(connection: http.client.HTTPConnection) -> None:
    first, body = _list_tables(connection)
    assert first.status == 200 and "TableNames" in body  # type: ignore[operator]
    assert first.getheader("Connection") != "close" and not first.will_close
    socket_before = connection.sock
    second, body = _list_tables(connection)
    assert second.status == 200 and "TableNames" in body  # type: ignore[operator]
    assert connection.sock is socket_before  # no reconnect in between


def test_a_body_the_application_never_reads_does_not_leak_into_the_next_request(
    connection: http.client.HTTPConnection,
) -> None:
    # moto's config route ignores a GET's body: left unread it would be parsed as the next request line.
    connection.request("GET", "/moto-api/config", body=b"x" * 70_000, headers={"Content-Type": "text/plain"})
    ignored = connection.getresponse()
    ignored.read()
    assert 200 <= ignored.status < 300 and not ignored.will_close
    response, body = _list_tables(connection)
    assert response.status == 200 and "TableNames" in body  # type: ignore[operator]


def test_a_chunked_request_is_answered_then_closed(connection: http.client.HTTPConnection) -> None:
    connection.putrequest("POST", "/")
    for name, value in {**LIST_TABLES, "Transfer-Encoding": "chunked"}.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(b"2\r\n{}\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 200 and "TableNames" in json.loads(response.read())
    assert response.will_close
