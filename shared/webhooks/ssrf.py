"""Which webhook URLs we may call: the SSRF guard, applied when a subscription is saved and
again before every delivery (a name may be re-pointed at an internal address after it passed).

Policy (what a subscriber may ask us to POST to):
- `https` only. Plain `http` only when `allow_loopback_http` is set (the local cloud sets it by
  configuration) and then only to loopback addresses; that flag also lets https reach loopback.
- No credentials in the URL (we would never send them, and they would sit in our tables and
  logs), no fragment, no control characters or spaces, at most 2048 characters.
- Port: the scheme's default, or 1024-65535. Other privileged ports (22, 25, 110, ...) are where
  SSH, mail and other non-HTTP services listen; a webhook there is a probe, not a receiver,
  while self-hosted receivers commonly use 8443/8080-style high ports.
- Numeric hosts only as canonical IP literals: `2130706433`, `0x7f.1` or `127.1` (which
  resolvers read as 127.0.0.1) are refused outright rather than left to the resolver's taste.
- Every address the name resolves to must be public (not only the first: a resolver may return
  several and the connection may use any): loopback, private (RFC 1918, fc00::/7), link-local
  (169.254/16 including the metadata service 169.254.169.254, fe80::/10), CGNAT 100.64/10,
  multicast, reserved, unspecified, site-local and other non-global ranges are refused, and so
  are IPv6 addresses that embed a refused IPv4 address (IPv4-mapped ::ffff:a.b.c.d is judged
  as that IPv4 address; 6to4 2002::/16 by its embedded address, and otherwise as IPv6). NAT64
  64:ff9b::/96, IPv4-compatible ::a.b.c.d and Teredo 2001::/32 are refused whatever they embed:
  they are reserved or not global, and no receiver publishes them in DNS.
Refusals name the category, never the resolved address: telling a tenant what an internal name
resolves to would be a leak of its own.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from shared.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[IPAddress]]

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"https": 443, "http": 80}
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]*))*\.?")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class DestinationRefused(ValidationFailed):
    """The URL may not receive webhooks. `reason` is a short category code for logs and the API."""

    code = "webhook_url_refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


class DestinationUnresolvable(DestinationRefused):
    """The host does not resolve (now): refused at subscription, a retryable failure at delivery."""


@dataclass(frozen=True)
class WebhookUrl:
    """A syntactically acceptable webhook URL, split into what a connection needs."""

    scheme: Literal["https", "http"]
    host: str  # lower-case ASCII (IDNA), IPv6 without brackets
    port: int
    target: str  # path and query, as sent in the request line
    literal: IPAddress | None  # the host, when it is an IP literal


@dataclass(frozen=True)
class CheckedDestination:
    """A URL and the addresses it resolved to, all allowed; connect to these, not to the name."""

    url: WebhookUrl
    addresses: tuple[IPAddress, ...]


def resolve_system(host: str, port: int) -> list[IPAddress]:
    """The system resolver (getaddrinfo): every TCP address, in the resolver's order, no repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen[ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])] = None
    return list(seen)


def parse_webhook_url(url: str, *, allow_loopback_http: bool = False) -> WebhookUrl:
    """Apply the URL rules that need no DNS (raises DestinationRefused)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise DestinationRefused("malformed", f"the URL must be 1 to {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise DestinationRefused("malformed", "the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationRefused("malformed", "the URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_loopback_http:
        raise DestinationRefused("scheme", "webhook URLs must use https")
    if scheme not in ("https", "http"):
        raise DestinationRefused("scheme", "webhook URLs must use https")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("credentials", "the URL must not contain credentials")
    if parts.fragment or url.endswith("#"):
        raise DestinationRefused("malformed", "the URL must not contain a fragment")
    host, literal = _host(parts.hostname)
    port = _port(scheme, port)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    checked_scheme: Literal["https", "http"] = "https" if scheme == "https" else "http"
    return WebhookUrl(scheme=checked_scheme, host=host, port=port, target=target, literal=literal)


def _host(hostname: str | None) -> tuple[str, IPAddress | None]:
    """The host as we will resolve and name it, and the address when it is an IP literal."""
    host = (hostname or "").rstrip(".")
    if not host:
        raise DestinationRefused("malformed", "the URL has no host")
    literal = _ip_literal(host)
    if literal is not None:
        return host, literal
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DestinationRefused("malformed", "the host is not a valid domain name") from None
    if _NUMERIC_HOST.fullmatch(host):
        raise DestinationRefused("malformed", "numeric hosts must be written as a dotted IPv4 address")
    return host, None


def _port(scheme: str, port: int | None) -> int:
    default_port = _DEFAULT_PORTS[scheme]
    if port is None:
        return default_port
    if port != default_port and not 1024 <= port <= 65535:
        raise DestinationRefused("port", "the port must be the scheme's default or 1024-65535")
    return port


def _ip_literal(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise DestinationRefused("address", "scoped IPv6 addresses are not allowed")
    return address


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for or tunnels to, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `address` may not receive webhooks (a category), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = address_refusal(inner, allow_loopback=allow_loopback)
            # An IPv4-mapped form is that IPv4 address; a tunnel prefix adds its own rules below.
            if reason is not None or address.ipv4_mapped is not None:
                return reason
        if address.is_site_local:
            return "private"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared (CGNAT)"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def check_destination(
    url: str | WebhookUrl,
    *,
    allow_loopback_http: bool = False,
    resolver: Resolver = resolve_system,
) -> CheckedDestination:
    """Parse `url`, resolve its host and check every address (raises DestinationRefused).

    Called when a subscription is saved and again before each delivery; the delivery connects
    to the returned addresses only.
    """
    parsed = url if isinstance(url, WebhookUrl) else parse_webhook_url(url, allow_loopback_http=allow_loopback_http)
    if parsed.literal is not None:
        addresses: tuple[IPAddress, ...] = (parsed.literal,)
    else:
        try:
            addresses = tuple(resolver(parsed.host, parsed.port))
        except (OSError, UnicodeError):
            raise DestinationUnresolvable("unresolvable", "the host does not resolve") from None
        if not addresses:
            raise DestinationUnresolvable("unresolvable", "the host does not resolve")
    for address in addresses:
        reason = address_refusal(address, allow_loopback=allow_loopback_http)
        if reason is not None:
            raise DestinationRefused(reason, f"the host resolves to a {reason} address")
        if parsed.scheme == "http" and not _effective(address).is_loopback:
            raise DestinationRefused("scheme", "plain http is allowed only to loopback")
    return CheckedDestination(url=parsed, addresses=addresses)


def _effective(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
