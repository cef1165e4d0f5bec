"""Outbound addresses: meshward sends only where an admin pointed it, and never to a cloud
metadata service or a link-local address, which would hand an instance's credentials to
whoever can write a URL into a rule or a catalog annotation (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import httpx

from meshward.errors import MeshwardError

METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))

Resolver = Callable[[str], list[str]]


class OutboundRefused(MeshwardError):
    """A destination meshward will not send to."""


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise OutboundRefused(f"cannot resolve {host}: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_address(address: str, *, allow_private: bool, host: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        raise OutboundRefused(f"refused {host}: {ip} is a cloud metadata address")
    if any(ip in net for net in LINK_LOCAL):
        raise OutboundRefused(f"refused {host}: {ip} is link-local")
    if ip.is_loopback:
        if not allow_private:
            raise OutboundRefused(
                f"refused {host}: {ip} is a loopback address (allowed only with allow_private)"
            )
    elif ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        raise OutboundRefused(f"refused {host}: {ip} is not a destination")


def check_host(host: str, *, allow_private: bool, resolve: Resolver = _resolve) -> None:
    """Refuse metadata names, and names that resolve to a refused address (every address a
    name resolves to is checked, so one bad record is enough to refuse)."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        raise OutboundRefused("refused: no host")
    if name in METADATA_HOSTS:
        raise OutboundRefused(f"refused {name}: a cloud metadata service")
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        addresses = [name]
    except ValueError:
        if name == "localhost" or name.endswith(".localhost"):
            addresses = ["127.0.0.1"]
        else:
            addresses = resolve(name)
    for address in addresses:
        check_address(address, allow_private=allow_private, host=name)


def check_url(url: str, *, allow_private: bool, resolve: Resolver = _resolve) -> str:
    """The URL, when meshward may send to it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise OutboundRefused(f"invalid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise OutboundRefused(f"refused URL: only http:// and https:// are allowed, not {url!r}")
    if parsed.userinfo:
        raise OutboundRefused("refused URL: credentials belong in an environment variable")
    check_host(parsed.host, allow_private=allow_private, resolve=resolve)
    return url
