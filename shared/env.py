"""Readers of environment values: each turns the text of one variable into a typed value, or
raises ``ConfigurationError`` naming the variable and what it takes. ``shared.config`` names
the reader of each setting."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from typing import TypeVar

from shared.errors import ConfigurationError
from shared.money import currency_known
from shared.rates import RateLimit

T = TypeVar("T")

Reader = Callable[[str, str], T]
"""``read(name, raw)``: the value of variable ``name`` whose text is ``raw`` (never empty)."""


def text(name: str, raw: str) -> str:
    return raw


def lowercase(name: str, raw: str) -> str:
    return raw.lower()


def flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be a boolean, got {raw!r}")


def number(*, minimum: float, maximum: float = float("inf")) -> Reader[float]:
    """A number within ``minimum``..``maximum``."""

    def read(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise ConfigurationError(f"{name} must be within {minimum}..{maximum}, got {raw!r}")
        return value

    return read


def whole(*, minimum: float, maximum: float = float("inf")) -> Reader[int]:
    """A number within ``minimum``..``maximum``, as a whole number (its fraction dropped)."""
    within = number(minimum=minimum, maximum=maximum)
    return lambda name, raw: int(within(name, raw))


def choice(choices: Collection[str]) -> Reader[str]:
    def read(name: str, raw: str) -> str:
        if raw not in choices:
            raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    return read


def currency(name: str, raw: str) -> str:
    """An ISO 4217 code a wallet may hold (``shared.money``)."""
    if not currency_known(raw):
        raise ConfigurationError(
            f"{name} must be an ISO 4217 currency code with minor units (EUR, JPY...), got {raw!r}"
        )
    return raw


def rate(name: str, raw: str) -> RateLimit:
    try:
        return RateLimit.parse(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must look like 100/second or 20/10 minute, got {raw!r}") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(name: str, raw: str) -> float:
    """Seconds of ``250ms``, ``5s``, ``30m``, ``2h`` or ``5d``."""
    match = _DURATION.match(raw)
    if match is None:
        raise ConfigurationError(f"{name} must be a duration such as 5s, 30m, 2h or 5d, got {raw!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def durations(name: str, raw: str) -> tuple[float, ...]:
    """A comma-separated list of ``duration``s (``5s,5m,30m``)."""
    return tuple(duration(name, part) for part in names(name, raw))


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def short_name(name: str, raw: str) -> str:
    if not _NAME.fullmatch(raw):
        raise ConfigurationError(f"{name} must be 1 to 63 letters, digits, '.', '_' or '-', got {raw!r}")
    return raw


def names(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def networks(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks, each checked."""
    found = names(name, raw)
    for network in found:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigurationError(f"{name} must list addresses or networks, got {network!r}") from None
    return found


Address = tuple[str, int]
"""A server's host (a name or an address, IPv6 without brackets) and port."""


def host_port(name: str, raw: str, *, default_port: int | None = None) -> Address:
    """``host:port`` (``[::1]:26379`` for IPv6) as its host and port; the port may be left out
    when there is a ``default_port``."""
    host, port = raw.strip(), ""
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ConfigurationError(f"{name} must list host:port addresses, got {raw!r}")
        port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not port and default_port is not None:
        port = str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"{name} must list host:port addresses, got {raw!r}")
    return host, int(port)


def address_text(host: str, port: int | str) -> str:
    """``host:port``, with an IPv6 host in brackets: what ``host_port`` reads."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def addresses(name: str, raw: str) -> tuple[Address, ...]:
    """A comma-separated list of ``host:port`` addresses (``host_port``)."""
    found = tuple(host_port(name, part) for part in names(name, raw))
    if not found:
        raise ConfigurationError(f"{name} must list host:port addresses, got {raw!r}")
    return found
