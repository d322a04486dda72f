"""shared.webhooks.ssrf: which webhook URLs and addresses we may deliver to."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest

from shared.errors import ValidationFailed
from shared.webhooks.ssrf import (
    DestinationRefused,
    DestinationUnresolvable,
    IPAddress,
    Resolver,
    address_refusal,
    check_destination,
    parse_webhook_url,
)


def resolver(table: dict[str, Sequence[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


PUBLIC = resolver({"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "private"),
        ("240.0.0.1", "private"),
        ("192.0.2.1", "private"),  # documentation range: never a real receiver
        ("198.18.0.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::10.0.0.1", "private"),  # IPv4-compatible
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", "reserved"),  # NAT64 as a whole: no consumer publishes these
        ("2001::1", "private"),  # Teredo
    ],
)
def test_refused_addresses(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_local_mode_allows_loopback(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "192.168.0.1", "fc00::1"])
def test_local_mode_still_refuses_other_internal_addresses(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "scheme"),
        ("ftp://hooks.example.com/x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://hooks.example.com/", "scheme"),
        ("https://user:pass@hooks.example.com/x", "credentials"),
        ("https://user@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "malformed"),
        ("https://hooks.example.com:22/x", "port"),
        ("https://hooks.example.com:80/x", "port"),
        ("https://hooks.example.com:0/x", "port"),
        ("https://hooks.example.com:99999/x", "malformed"),
        ("https://2130706433/", "malformed"),
        ("https://0x7f000001/", "malformed"),
        ("https://127.1/", "malformed"),
        ("https://0177.0.0.1/", "malformed"),
        ("https://[::1/", "malformed"),
        ("https://[fe80::1%25eth0]/", "address"),
        ("https:///path", "malformed"),
        ("https://hooks.example.com/a b", "malformed"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "malformed"),
        ("https://hooks.example.com/" + "a" * 2100, "malformed"),
        ("", "malformed"),
    ],
)
def test_url_rules(url: str, reason: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        check_destination(url, resolver=PUBLIC)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/x",
        "https://hooks.example.com:443/x",
        "https://hooks.example.com:8443/x?a=1",
        "https://HOOKS.example.com./x",
    ],
)
def test_acceptable_urls(url: str) -> None:
    checked = check_destination(url, resolver=PUBLIC)
    assert checked.url.host == "hooks.example.com"
    assert len(checked.addresses) == 2


def test_parsed_url_keeps_what_the_request_needs() -> None:
    url = parse_webhook_url("https://Hooks.Example.com:8443/in/bound?tenant=1")
    assert (url.scheme, url.host, url.port, url.target, url.literal) == (
        "https",
        "hooks.example.com",
        8443,
        "/in/bound?tenant=1",
        None,
    )
    assert parse_webhook_url("https://hooks.example.com").target == "/"
    assert parse_webhook_url("https://[2606:4700::1111]/").literal == ipaddress.ip_address("2606:4700::1111")


def test_internationalised_names_are_resolved_in_their_ascii_form() -> None:
    seen: list[str] = []

    def resolve(host: str, port: int) -> list[IPAddress]:
        seen.append(host)
        return [ipaddress.ip_address("93.184.216.34")]

    check_destination("https://bücher.example/hook", resolver=resolve)
    assert seen == ["xn--bcher-kva.example"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://100.64.1.1/",
    ],
)
def test_ip_literal_urls_to_internal_addresses_are_refused_without_resolving(url: str) -> None:
    def resolve(host: str, port: int) -> list[IPAddress]:
        raise AssertionError("an IP literal needs no resolver")

    with pytest.raises(DestinationRefused):
        check_destination(url, resolver=resolve)


def test_a_name_resolving_to_a_private_address_is_refused_and_the_message_hides_it() -> None:
    with pytest.raises(DestinationRefused) as refused:
        check_destination("https://internal.example.com/", resolver=resolver({"internal.example.com": ["10.20.30.40"]}))
    assert refused.value.reason == "private"
    assert "10.20.30.40" not in str(refused.value) and "10.20.30.40" not in str(refused.value.to_body())


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    mixed = resolver({"mixed.example.com": ["93.184.216.34", "169.254.169.254"]})
    with pytest.raises(DestinationRefused) as refused:
        check_destination("https://mixed.example.com/", resolver=mixed)
    assert refused.value.reason == "link-local"


def test_unresolvable_names_are_refused_as_unresolvable() -> None:
    with pytest.raises(DestinationUnresolvable):
        check_destination("https://nowhere.example.com/", resolver=PUBLIC)
    with pytest.raises(DestinationUnresolvable):
        check_destination("https://empty.example.com/", resolver=resolver({"empty.example.com": []}))


def test_refusal_is_a_client_validation_error_for_the_api() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_destination("https://10.0.0.1/")
    assert refused.value.status == 422
    assert refused.value.to_body()["error"]["code"] == "webhook_url_refused"
    assert refused.value.to_body()["error"]["details"] == {"reason": "private"}


def test_plain_http_only_in_local_mode_and_only_to_loopback() -> None:
    local = resolver({"localhost": ["127.0.0.1", "::1"], "hooks.example.com": ["93.184.216.34"]})
    assert check_destination("http://localhost:8080/x", allow_loopback_http=True, resolver=local).addresses
    assert check_destination("http://127.0.0.1:8080/x", allow_loopback_http=True, resolver=local).addresses
    with pytest.raises(DestinationRefused) as refused:
        check_destination("http://hooks.example.com/x", allow_loopback_http=True, resolver=local)
    assert refused.value.reason == "scheme"
    with pytest.raises(DestinationRefused) as refused:
        check_destination("http://127.0.0.1:8080/x", resolver=local)
    assert refused.value.reason == "scheme"
    with pytest.raises(DestinationRefused) as refused:
        check_destination("http://10.0.0.1:8080/x", allow_loopback_http=True, resolver=local)
    assert refused.value.reason == "private"


def test_local_mode_lets_https_reach_loopback_but_not_outside_it() -> None:
    assert check_destination("https://127.0.0.1:8443/", allow_loopback_http=True).addresses
    with pytest.raises(DestinationRefused) as refused:
        check_destination("https://127.0.0.1:8443/")
    assert refused.value.reason == "loopback"
