"""The admin login resists guessing, and its password hashing never stalls the event loop.

- ``GuardedModelBackend``: Django's own authentication, behind counters in Redis (shared by
  every web node) of the attempts of the last ``FAILURE_WINDOW`` seconds. Each attempt is
  counted atomically *before* its password is hashed, and hashed only while every counter it
  falls under is below its limit, so a burst of concurrent guesses gets no more checks than a
  slow one. A success takes its count back and clears the user name's.

  Anonymous failures must not lock the real admin out (OWASP's "device cookie" design): a
  successful login leaves a signed cookie (``DEVICE_COOKIE``) naming the user in that
  browser. A login that shows it is counted on its own, ``MAX_FAILURES_PER_DEVICE`` per
  device; any other is counted per user name (``MAX_FAILURES_PER_USER``, from every address)
  and per client address (``MAX_FAILURES_PER_ADDRESS``, for every user name). So guesses from
  anywhere lock the user name for browsers it has never logged in from, never for those it has.

  The client address is ``REMOTE_ADDR``, or, when that is one of ``TRUSTED_PROXIES``, the
  address the proxies added to ``X-Forwarded-For`` (``client_address``): behind a TLS proxy
  every client would otherwise share the proxy's address and one lockout.

  Every failure and refusal is logged with the user name and address. Without Redis, logins
  are refused (fail closed): the admin is read-only, and guessing must not get easier during
  an outage.
- ``OffLoopPBKDF2PasswordHasher``: Django's PBKDF2 (the same ``pbkdf2_sha256`` format, so stored
  hashes verify unchanged), computed on gevent's thread pool when the process runs greenlets.
  ``hashlib.pbkdf2_hmac`` releases the GIL, so the other requests of the process go on while a
  login is checked, instead of waiting for it (about 240 ms per hash on the 2-core machine
  the README's figures come from).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import signing
from django.http import HttpRequest, HttpResponseBase

from shared import keys
from shared.config import get_settings
from shared.connections import get_redis

log = logging.getLogger("web.wallets.login")

T = TypeVar("T")

MAX_FAILURES_PER_USER = 5
"""Failed logins of a user name, from browsers it has not logged in from, before they are refused."""
MAX_FAILURES_PER_ADDRESS = 20
"""Failed logins from one client address (any user name, no device cookie) before it is refused."""
MAX_FAILURES_PER_DEVICE = 5
"""Failed logins with one device cookie before that browser, too, is refused."""
FAILURE_WINDOW = 15 * 60
"""Seconds a failed login counts against its counters."""

DEVICE_COOKIE = "wallet_admin_device"
"""The signed cookie a successful login leaves: the user name it logged in and a nonce."""
DEVICE_MAX_AGE = 90 * 86400
"""Seconds a device cookie is good for."""
_DEVICE_SALT = "web.wallets.login_guard.device"

# Counts one attempt in each counter KEYS[i] (limit ARGV[i]), expiring after ARGV[#KEYS + 1]
# seconds, if every one is below its limit; else counts nothing and returns the first that is
# full. One script: concurrent attempts cannot all read a count before any of them adds to it.
_ATTEMPT = """
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then return i end
end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[#KEYS + 1])
end
return 0
"""


def off_event_loop(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` on gevent's thread pool when this process runs greenlets, else here."""
    from gevent import get_hub, monkey

    if monkey.is_module_patched("socket"):
        result: T = get_hub().threadpool.apply(work, args)
        return result
    return work(*args)


class OffLoopPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        encode = super().encode
        return off_event_loop(encode, password, salt, iterations)


def client_address(request: HttpRequest | None, trusted_proxies: Sequence[str]) -> str:
    """The address of the client behind ``request``: ``REMOTE_ADDR``, unless that is a trusted
    proxy, then the rightmost address of ``X-Forwarded-For`` that is not (what the first
    untrusted hop told a trusted one; anything left of it a client could have written)."""
    if request is None:
        return "unknown"
    address = str(request.META.get("REMOTE_ADDR", "unknown"))
    if not trusted_proxies or not _is_trusted(address, trusted_proxies):
        return address
    for hop in reversed(str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address a proxy wrote: trust nothing further left
        address = hop
        if not _is_trusted(hop, trusted_proxies):
            break
    return address


def _is_trusted(address: str, trusted_proxies: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in trusted_proxies)


def _device_user(request: HttpRequest | None) -> tuple[str, str] | None:
    """The (user name, nonce) of the request's valid device cookie, if it has one."""
    raw = request.COOKIES.get(DEVICE_COOKIE) if request is not None else None
    if not raw:
        return None
    try:
        user, nonce = signing.loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return str(user), str(nonce)


def device_cookie_set(request: HttpRequest, response: HttpResponseBase) -> None:
    """Leave the device cookie a successful login asked for (``AdminDeviceCookieMiddleware``)."""
    value = getattr(request, "login_device_cookie", None)
    if value is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_MAX_AGE,
            path="/admin/",
            secure=get_settings().https,
            httponly=True,
            samesite="Strict",
        )


class GuardedModelBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        name = (username or "").lower()
        address = client_address(request, get_settings().trusted_proxies)
        context = {"user": username, "address": address}
        device = _device_user(request)
        if device is not None and device[0] == name:
            counters = {keys.login_failures_key("device", device[1]): MAX_FAILURES_PER_DEVICE}
        else:
            counters = {
                keys.login_failures_key("user", name): MAX_FAILURES_PER_USER,
                keys.login_failures_key("address", address): MAX_FAILURES_PER_ADDRESS,
            }
        connection = get_redis()
        try:
            full = connection.eval(_ATTEMPT, len(counters), *counters, *counters.values(), FAILURE_WINDOW)
        except redis.RedisError:
            log.error("admin login refused: Redis is unavailable to count failures", extra=context)
            return None
        if full:
            log.warning("admin login refused: too many failed logins", extra=context)
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            log.warning("admin login failed", extra=context)
            return None
        try:  # not a failure: its count back, and the user name's cleared
            with connection.pipeline(transaction=False) as pipe:
                for key in counters:
                    pipe.decr(key)
                pipe.delete(keys.login_failures_key("user", name))
                pipe.execute()
        except redis.RedisError:
            log.error("admin login: could not take the attempt's count back", extra=context)
        if request is not None:
            request.login_device_cookie = signing.dumps(  # type: ignore[attr-defined]
                [name, secrets.token_urlsafe(16)], salt=_DEVICE_SALT
            )
        return user
