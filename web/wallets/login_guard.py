"""The admin login resists guessing, and its password hashing never stalls the event loop.

- ``GuardedModelBackend``: Django's own authentication, refused outright once a user name has
  failed ``MAX_FAILURES_PER_USER`` times, or a client address ``MAX_FAILURES_PER_ADDRESS``
  times, within ``FAILURE_WINDOW`` seconds (counters in Redis, shared by every web node; a
  success clears the user's count). Every failure and every refusal is logged with the user
  name and address. Without Redis, logins are refused (fail closed): the admin is read-only,
  and guessing must not get easier during an outage.
- ``OffLoopPBKDF2PasswordHasher``: Django's PBKDF2 (the same ``pbkdf2_sha256`` format, so stored
  hashes verify unchanged), computed on gevent's thread pool when the process runs greenlets.
  ``hashlib.pbkdf2_hmac`` releases the GIL, so the other requests of the process go on while a
  login is checked, instead of waiting for it (about 240 ms per hash on the 2-core machine
  the README's figures come from).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.http import HttpRequest

from shared import keys
from shared.connections import get_redis

log = logging.getLogger("web.wallets.login")

T = TypeVar("T")

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = 15 * 60
"""Seconds a failed login counts against its user name and address."""


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


def _address(request: HttpRequest | None) -> str:
    return str(request.META.get("REMOTE_ADDR", "unknown")) if request is not None else "unknown"


class GuardedModelBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        user_key = keys.login_failures_key("user", (username or "").lower())
        address = _address(request)
        address_key = keys.login_failures_key("address", address)
        connection = get_redis()
        context = {"user": username, "address": address}
        try:
            user_failures, address_failures = (int(n or 0) for n in connection.mget(user_key, address_key))
        except redis.RedisError:
            log.error("admin login refused: Redis is unavailable to count failures", extra=context)
            return None
        if user_failures >= MAX_FAILURES_PER_USER or address_failures >= MAX_FAILURES_PER_ADDRESS:
            log.warning("admin login refused: too many failed logins", extra=context)
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        try:
            with connection.pipeline(transaction=False) as pipe:
                if user is None:
                    for key in (user_key, address_key):
                        pipe.incr(key)
                        pipe.expire(key, FAILURE_WINDOW)
                else:
                    pipe.delete(user_key)
                pipe.execute()
        except redis.RedisError:
            log.error("admin login: could not count the attempt", extra=context)
            return None
        if user is None:
            log.warning("admin login failed", extra=context)
        return user
