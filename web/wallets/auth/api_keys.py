"""API keys: who is calling, for which tenant, allowed to do what.

A key is ``wk_<10 hex>_<43 url-safe characters>``: the first part is its visible prefix (logs,
the admin), the rest 256 random bits. Only the SHA-256 of the whole key is stored: a secret
with that much entropy needs no slow password hash, and one SHA-256 per request costs about
a microsecond. A key may carry its own rate limits (``rate_limits``). A web process keeps
what it read of a key for ``API_KEY_CACHE_SECONDS`` (2 s by default, at most 5), so a revoked
key (or a changed limit) takes effect on every node within that, at the cost of one indexed
read per key per process every 2 s.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID, uuid4

from shared.config import Settings
from shared.errors import Forbidden, Unauthorized
from shared.rates import Limit, RateLimit
from web.database import read_one, write
from web.wallets.error_codes import MALFORMED, MISSING, READ_ONLY, UNKNOWN

KEY_PREFIX = "wk_"


_KEY = re.compile(r"wk_[0-9a-f]{10}_[A-Za-z0-9_-]{43}")

CACHED_KEYS = 10_000
"""Keys (known or not) a web process remembers at most; the cache is emptied when full."""

LAST_USED_EVERY = 60
"""Seconds between writes of a key's ``last_used_at`` (it is a hint, not an audit log)."""

_RATE_COLUMNS = ", ".join(limit.field for limit in Limit)
_LOOKUP = (
    "SELECT id, tenant_id, scopes, last_used_at IS NULL OR last_used_at < now() - %s * interval '1 second', "  # noqa: S608 (constant)
    f"{_RATE_COLUMNS} FROM api_keys WHERE secret_sha256 = %s AND revoked_at IS NULL"
)
_TOUCH = "UPDATE api_keys SET last_used_at = now() WHERE id = %s"
_INSERT_TENANT = "INSERT INTO tenants (id, name, wallet_limit) VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING"
_TENANT_ID = "SELECT id FROM tenants WHERE name = %s"
_INSERT_KEY = (
    f"INSERT INTO api_keys (id, tenant_id, name, prefix, secret_sha256, scopes, {_RATE_COLUMNS})"  # noqa: S608 (constant)
    f" VALUES (%s, %s, %s, %s, %s, %s{', %s' * len(Limit)})"
)
_REVOKE = (
    "UPDATE api_keys SET revoked_at = now() WHERE (prefix = %s OR id::text = %s) AND revoked_at IS NULL RETURNING id"
)


class Scope(StrEnum):
    READ = "read"
    READ_WRITE = "read,write"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: a key of a tenant, or anyone (``API_AUTH=off``)."""

    key_id: UUID | None
    tenant_id: str | None
    """The tenant's id in PostgreSQL's text form (compared with a wallet's as read, no parsing);
    None only when auth is off: every wallet is reachable, as in the seed."""
    can_write: bool
    rates: Mapping[Limit, RateLimit] = field(default_factory=dict)
    """The key's own rate limits; a limit missing here is the setting's (``Settings.rate_limit``)."""

    def reaches(self, tenant_id: str | None) -> bool:
        """Whether a wallet of ``tenant_id`` is this caller's to see and use."""
        return self.tenant_id is None or self.tenant_id == tenant_id

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden(READ_ONLY)


OPEN = Caller(key_id=None, tenant_id=None, can_write=True)
"""The caller of every request when ``API_AUTH=off``."""


@dataclass(frozen=True, slots=True)
class NewKey:
    id: UUID
    prefix: str
    secret: str
    """Shown once, when the key is made; never stored."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_create(
    *, tenant: str, name: str, scope: Scope, wallet_limit: int, rates: Mapping[Limit, RateLimit] | None = None
) -> NewKey:
    """A new key of ``tenant`` (created, with ``wallet_limit``, if it is new), with its own
    ``rates`` where given (the settings' otherwise)."""
    own = rates or {}
    write(_INSERT_TENANT, (str(uuid4()), tenant, wallet_limit))
    row = read_one(_TENANT_ID, (tenant,))
    assert row is not None
    prefix = KEY_PREFIX + secrets.token_hex(5)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    key_id = uuid4()
    own_rates = tuple(str(own[limit]) if limit in own else None for limit in Limit)
    write(_INSERT_KEY, (str(key_id), str(row[0]), name, prefix, secret_hash(secret), scope.value, *own_rates))
    return NewKey(key_id, prefix, secret)


def key_revoke(*, prefix_or_id: str) -> bool:
    """Revoke a key by its prefix or id; False if no such unrevoked key."""
    return read_one(_REVOKE, (prefix_or_id, prefix_or_id)) is not None


_cache: dict[str, tuple[Caller | None, float]] = {}


def _lookup(digest: str, settings: Settings) -> Caller | None:
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[1] > now:
        return cached[0]
    row = read_one(_LOOKUP, (LAST_USED_EVERY, digest))
    caller = None
    if row is not None:
        key_id, tenant_id, scopes, stale, *own = row
        rates = {limit: RateLimit.parse(rate) for limit, rate in zip(Limit, own, strict=True) if rate is not None}
        caller = Caller(UUID(str(key_id)), str(tenant_id), scopes == Scope.READ_WRITE.value, rates)
        if stale:
            write(_TOUCH, (str(key_id),))
    if len(_cache) >= CACHED_KEYS:
        _cache.clear()
    _cache[digest] = (caller, now + settings.api_key_cache_seconds)
    return caller


def authenticate(authorization: str | None, settings: Settings) -> Caller:
    """The caller an ``Authorization`` header names, or ``Unauthorized``."""
    if not settings.api_auth:
        return OPEN
    if not authorization:
        raise Unauthorized(MISSING)
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not _KEY.fullmatch(secret):
        raise Unauthorized(MALFORMED)
    caller = _lookup(secret_hash(secret), settings)
    if caller is None:
        raise Unauthorized(UNKNOWN)
    return caller
