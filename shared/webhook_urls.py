"""Which URLs a webhook may call: ``http`` or ``https``, a host, no credentials, and, unless
``WEBHOOK_ALLOW_PRIVATE_URLS``, only public addresses. Checked when an endpoint is registered
and again at every delivery, on the addresses the delivery then connects to (a name that
resolved to a public address yesterday may resolve to 127.0.0.1 today: DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import InvalidRequest

MAX_URL_LENGTH = 2048

SCHEMES = {"http": 80, "https": 443}

BAD_URL = "Invalid webhook URL: an http:// or https:// URL with a host"
NO_CREDENTIALS = "Invalid webhook URL: credentials in the URL are not allowed"
UNRESOLVED = "Invalid webhook URL: its host does not resolve"
PRIVATE = "Webhook URL refused: it resolves to a loopback, private, link-local, multicast or reserved address"

Resolve = Callable[[str, int], list[str]]
"""``resolve(host, port)``: the addresses a name resolves to."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a webhook URL sends: its parts, and the addresses to connect to (checked)."""

    scheme: str
    host: str
    port: int
    path: str
    """With its query."""
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``socket.gaierror`` if none)."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def address_public(address: str) -> bool:
    """Whether an address is a public one: not loopback, private, link-local, multicast,
    reserved or unspecified (an IPv4 address mapped into IPv6 counts as itself)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a webhook URL, or ``InvalidRequest`` naming the rule."""
    if not isinstance(url, str) or not url.isascii() or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise InvalidRequest(BAD_URL)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(BAD_URL) from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InvalidRequest(BAD_URL)
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(NO_CREDENTIALS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or SCHEMES[parts.scheme], path


def url_check(url: str, *, allow_private: bool, resolver: Resolve = resolve) -> Target:
    """The target of ``url`` with the addresses it may connect to: every address its host
    resolves to must be public unless ``allow_private`` (one private address refuses it all,
    so a name cannot mix a public address for the check with a private one for the call)."""
    scheme, host, port, path = url_parse(url)
    try:
        addresses = tuple(resolver(host, port))
    except (OSError, UnicodeError):
        raise InvalidRequest(UNRESOLVED) from None
    if not addresses:
        raise InvalidRequest(UNRESOLVED)
    if not allow_private and not all(address_public(a) for a in addresses):
        raise InvalidRequest(PRIVATE)
    return Target(scheme, host, port, path, addresses)
