"""shared.webhooks.delivery_http: one POST to a checked address, against real local receivers.

"Not connected" is proved twice: an injected connect records every address dialled, and a
plain listening socket on 127.0.0.1 reports whether anything reached its accept queue.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from consumer_kit.webhooks import WebhookVerifier, generate_secret, sign_webhook
from shared.webhooks.delivery_http import DeliveryOutcome, DeliveryResult, deliver
from shared.webhooks.ssrf import IPAddress, Resolver, check_destination

BODY = json.dumps({"id": "evt_1", "type": "webhook.ping", "data": {}}).encode()
HEADERS = {"webhook-id": "evt_1", "webhook-timestamp": "1800000000", "webhook-signature": "v1,AAAA"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    receiver: ClassVar[Receiver]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
        self.receiver.received.append(got)
        self.receiver.routes.get(self.path, _status(404))(self)


def _status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Callable[[_Handler], None]:
    def answer(handler: _Handler) -> None:
        handler.send_response(code)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


class Receiver:
    """A webhook consumer on 127.0.0.1 (plain or TLS) whose answers are set per path."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.routes: dict[str, Callable[[_Handler], None]] = {}
        self.release = threading.Event()  # set at teardown: frees held and dripping handlers
        handler = type("_Bound", (_Handler,), {"receiver": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


class Listener:
    """A bare listening socket on 127.0.0.1: `accepted()` counts connections that reached it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])

    def accepted(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    bare = Listener()
    yield bare
    bare.sock.close()


@dataclass
class RecordingConnect:
    """socket.create_connection, recording every address dialled."""

    calls: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.calls.append(address)
        return socket.create_connection(address, timeout)


def resolver(table: dict[str, Sequence[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


class RebindingResolver:
    """Answers each lookup with the next answer in turn: public first, internal afterwards."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [ipaddress.ip_address(answer)]


def local(url: str, connect: RecordingConnect | None = None, **kwargs: Any) -> DeliveryResult:
    return deliver(url, BODY, HEADERS, allow_loopback_http=True, connect=connect or RecordingConnect(), **kwargs)


# -- refused: nothing connected -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1:{port}/hook", "loopback"),
        ("https://[::1]:{port}/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]:{port}/hook", "loopback"),
        ("https://localhost.example.com:{port}/hook", "loopback"),
        ("http://127.0.0.1:{port}/hook", "scheme"),
    ],
)
def test_loopback_outside_local_mode_is_refused_and_never_reached(listener: Listener, url: str, reason: str) -> None:
    connect = RecordingConnect()
    result = deliver(
        url.format(port=listener.port),
        BODY,
        HEADERS,
        connect=connect,
        resolver=resolver({"localhost.example.com": ["127.0.0.1"]}),
    )

    assert (result.outcome, result.error, result.status_code) == (DeliveryOutcome.REFUSED, reason, None)
    assert connect.calls == []
    assert listener.accepted() == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://100.64.0.1/hook", "shared (CGNAT)"),
        ("https://internal.example.com/hook", "private"),
        ("https://metadata.example.com/hook", "link-local"),
        ("https://[fd00::1]/hook", "private"),
    ],
)
def test_internal_destinations_are_refused_and_never_dialled(url: str, reason: str) -> None:
    connect = RecordingConnect()
    names = resolver({"internal.example.com": ["10.1.2.3"], "metadata.example.com": ["169.254.169.254"]})
    result = deliver(url, BODY, HEADERS, connect=connect, resolver=names)

    assert (result.outcome, result.error) == (DeliveryOutcome.REFUSED, reason)
    assert connect.calls == []


def test_local_mode_still_refuses_private_addresses() -> None:
    connect = RecordingConnect()
    assert local("http://10.0.0.1/hook", connect).outcome is DeliveryOutcome.REFUSED
    assert connect.calls == []


def test_dns_rebinding_public_at_subscription_internal_at_delivery_is_refused(listener: Listener) -> None:
    rebinding = RebindingResolver("93.184.216.34", "127.0.0.1")
    url = f"https://rebind.example.com:{listener.port}/hook"
    assert check_destination(url, resolver=rebinding).addresses  # saved: it looked public then

    connect = RecordingConnect()
    result = deliver(url, BODY, HEADERS, connect=connect, resolver=rebinding)

    assert (result.outcome, result.error) == (DeliveryOutcome.REFUSED, "loopback")
    assert rebinding.lookups == 2
    assert connect.calls == []
    assert listener.accepted() == 0


def test_unresolvable_at_delivery_is_its_own_outcome() -> None:
    result = deliver("https://gone.example.com/", BODY, HEADERS, connect=RecordingConnect(), resolver=resolver({}))
    assert result.outcome is DeliveryOutcome.UNRESOLVABLE


# -- local mode: a real consumer ------------------------------------------------------------


def test_a_local_consumer_receives_a_signed_delivery_that_verifies(receiver: Receiver) -> None:
    receiver.routes["/hook"] = _status(204)
    secret = generate_secret()
    body = json.dumps({"id": "evt_9", "type": "order.filled", "data": {"order_id": "ord_1"}}).encode()
    now = int(datetime.now(UTC).timestamp())
    connect = RecordingConnect()

    result = deliver(
        f"http://127.0.0.1:{receiver.port}/hook",
        body,
        sign_webhook(secret, "evt_9", body, now),
        allow_loopback_http=True,
        connect=connect,
    )

    assert result.outcome is DeliveryOutcome.DELIVERED and result.status_code == 204 and result.succeeded
    assert result.latency_ms > 0
    [got] = receiver.received
    assert got.body == body
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("CryptoOrchestrator-Webhooks/")
    assert WebhookVerifier(secret).verify(got.body, got.headers).id == "evt_9"
    assert connect.calls == [("127.0.0.1", receiver.port)]


def test_connects_to_the_checked_address_and_sends_the_name_as_host(receiver: Receiver) -> None:
    receiver.routes["/hook"] = _status(200)
    connect = RecordingConnect()
    names = resolver({"consumer.localtest": ["127.0.0.1"]})

    result = local(f"http://consumer.localtest:{receiver.port}/hook", connect, resolver=names)

    assert result.outcome is DeliveryOutcome.DELIVERED
    assert connect.calls == [("127.0.0.1", receiver.port)]
    assert receiver.received[0].headers["host"] == f"consumer.localtest:{receiver.port}"


def test_callers_cannot_override_host_or_framing(receiver: Receiver) -> None:
    receiver.routes["/hook"] = _status(200)
    deliver(
        f"http://127.0.0.1:{receiver.port}/hook",
        BODY,
        {**HEADERS, "Host": "evil.example", "Content-Length": "1", "content-type": "application/x-test"},
        allow_loopback_http=True,
    )
    got = receiver.received[0]
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.body == BODY
    assert got.headers["content-type"] == "application/x-test"


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(receiver: Receiver) -> None:
    receiver.routes["/hook"] = _status(200)
    connect = RecordingConnect()
    names = resolver({"two.localtest": ["127.0.0.2", "127.0.0.1"]})  # the receiver listens on .1 only

    result = local(f"http://two.localtest:{receiver.port}/hook", connect, resolver=names)

    assert result.outcome is DeliveryOutcome.DELIVERED
    assert connect.calls == [("127.0.0.2", receiver.port), ("127.0.0.1", receiver.port)]


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (200, DeliveryOutcome.DELIVERED),
        (202, DeliveryOutcome.DELIVERED),
        (410, DeliveryOutcome.GONE),
        (500, DeliveryOutcome.HTTP_ERROR),
        (404, DeliveryOutcome.HTTP_ERROR),
        (429, DeliveryOutcome.HTTP_ERROR),
    ],
)
def test_status_codes_are_classified(receiver: Receiver, code: int, outcome: DeliveryOutcome) -> None:
    receiver.routes["/hook"] = _status(code, body=b"nope")
    result = local(f"http://127.0.0.1:{receiver.port}/hook")
    assert (result.outcome, result.status_code) == (outcome, code)
    assert result.response_excerpt == b"nope"


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/internal", "http://10.0.0.1/admin", "http://169.254.169.254/latest/meta-data/"]
)
def test_redirects_are_not_followed(receiver: Receiver, listener: Listener, target: str) -> None:
    receiver.routes["/hook"] = _status(302, {"Location": target.format(port=listener.port)})
    connect = RecordingConnect()

    result = local(f"http://127.0.0.1:{receiver.port}/hook", connect)

    assert (result.outcome, result.status_code) == (DeliveryOutcome.HTTP_ERROR, 302)
    assert connect.calls == [("127.0.0.1", receiver.port)]
    assert listener.accepted() == 0
    assert len(receiver.received) == 1


def test_a_held_response_times_out(receiver: Receiver) -> None:
    def hold(handler: _Handler) -> None:
        receiver.release.wait(30)

    receiver.routes["/hook"] = hold
    result = local(f"http://127.0.0.1:{receiver.port}/hook", timeout_seconds=0.3)
    assert (result.outcome, result.status_code, result.error) == (DeliveryOutcome.TIMEOUT, None, "timeout")


def test_one_deadline_covers_the_whole_exchange_not_each_byte(receiver: Receiver) -> None:
    """A receiver dripping header bytes faster than the timeout never trips a per-read socket
    timeout; without an overall deadline this would end, seconds later, as a 200."""

    def drip(handler: _Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        handler.wfile.flush()
        for _ in range(300):
            if receiver.release.wait(0.02):  # pacing the drip, not synchronising the test
                return
            try:
                handler.wfile.write(b"X")
                handler.wfile.flush()
            except OSError:
                return  # the client hung up
        handler.wfile.write(b"-Drip: 1\r\nContent-Length: 0\r\n\r\n")

    receiver.routes["/hook"] = drip
    result = local(f"http://127.0.0.1:{receiver.port}/hook", timeout_seconds=0.3)
    assert result.outcome is DeliveryOutcome.TIMEOUT


@pytest.mark.parametrize("cap", [4096, 10])
def test_big_bodies_are_read_only_up_to_the_cap(receiver: Receiver, cap: int) -> None:
    receiver.routes["/hook"] = _status(500, body=b"x" * (1 << 20))
    result = local(f"http://127.0.0.1:{receiver.port}/hook", response_cap=cap)
    assert (result.outcome, result.status_code) == (DeliveryOutcome.HTTP_ERROR, 500)
    assert len(result.response_excerpt) == cap


def test_default_cap_is_4_kib(receiver: Receiver) -> None:
    receiver.routes["/hook"] = _status(200, body=b"x" * 100_000)
    assert len(local(f"http://127.0.0.1:{receiver.port}/hook").response_excerpt) == 4096


def test_a_closed_port_is_a_connection_error() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    result = local(f"http://127.0.0.1:{port}/hook")
    assert result.outcome is DeliveryOutcome.CONNECTION_ERROR
    assert result.error == "ConnectionRefusedError"


# -- TLS: pinned address, verified name -----------------------------------------------------


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for hooks.example.test and a client context that trusts only it."""
    cert_pem, key_pem = _certificate("hooks.example.test")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


@pytest.fixture
def tls_receiver(tls_material: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[Receiver]:
    server = Receiver(tls=tls_material[0])
    server.routes["/hook"] = _status(200)
    yield server
    server.stop()


def test_https_connects_to_the_checked_address_and_verifies_the_name(
    tls_receiver: Receiver, tls_material: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    connect = RecordingConnect()
    names = resolver({"hooks.example.test": ["127.0.0.1"]})

    result = local(
        f"https://hooks.example.test:{tls_receiver.port}/hook", connect, resolver=names, ssl_context=tls_material[1]
    )

    assert result.outcome is DeliveryOutcome.DELIVERED
    assert connect.calls == [("127.0.0.1", tls_receiver.port)]
    assert tls_receiver.received[0].headers["host"] == f"hooks.example.test:{tls_receiver.port}"


def test_https_certificate_for_another_name_is_a_tls_error(
    tls_receiver: Receiver, tls_material: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    names = resolver({"other.example.test": ["127.0.0.1"]})
    result = local(f"https://other.example.test:{tls_receiver.port}/hook", resolver=names, ssl_context=tls_material[1])
    assert result.outcome is DeliveryOutcome.TLS_ERROR
    assert tls_receiver.received == []


def test_https_untrusted_certificate_is_a_tls_error(tls_receiver: Receiver) -> None:
    names = resolver({"hooks.example.test": ["127.0.0.1"]})
    result = local(f"https://hooks.example.test:{tls_receiver.port}/hook", resolver=names)  # system CAs
    assert result.outcome is DeliveryOutcome.TLS_ERROR
    assert tls_receiver.received == []
