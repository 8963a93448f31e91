"""Process-wide clients for Redis and PostgreSQL (SQLAlchemy), built from ``shared.config``."""

from __future__ import annotations

import select
from functools import lru_cache
from typing import Any

import redis
from gevent.monkey import get_original
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection
from sqlalchemy import Engine, create_engine, event

from shared import failovers
from shared.config import Settings, get_settings
from shared.env import address_text
from shared.failovers import Backend

REDIS_CONNECT_TIMEOUT = 0.5
"""Seconds to wait for a Redis connection: an outage must answer 503 quickly, not hang."""

REDIS_SOCKET_MARGIN = 2.0
"""Seconds a Redis read may take beyond the longest BLPOP we issue."""


_OS_POLL = get_original("select", "poll")
"""The system's poll, never gevent's (which patches ``select`` in the web's processes)."""


class _QuickReadyCheck(redis.Connection):
    """A connection whose zero-timeout readiness check is one poll(2) of the system.

    A pool checks each connection it hands out for something to read (a reply left unread, or the
    server's hang-up): redis-py asks ``select.poll``, which under gevent is a cooperative poll that
    switches to the hub and back even for a zero timeout (measured: 27-31 µs per check, against
    2 µs unpatched), on every enqueue of the web. Here the system's poll answers the usual case,
    nothing to read, at once; anything else (data or a hang-up on the socket, a reply already in
    the parser's buffer, a parser without one, a wait) is redis-py's own check, unchanged."""

    def can_read(self, timeout: float = 0) -> bool:
        sock: Any = self._sock
        reader: Any = getattr(self._parser, "_reader", None)  # hiredis's, which buffers what arrived
        if timeout or sock is None or reader is None or reader.has_data():
            return super().can_read(timeout)
        poller = _OS_POLL()
        poller.register(sock.fileno(), select.POLLIN)
        if poller.poll(0):
            return super().can_read(timeout)
        return False


class _MasterConnection(_QuickReadyCheck, SentinelManagedConnection):
    """A connection to the master the Sentinels name, reporting where it landed
    (``shared.failovers``): each new connection asks them, so after a failover the next one
    reaches the new master."""

    def connect_to(self, address: tuple[str, int]) -> None:
        super().connect_to(address)  # type: ignore[no-untyped-call]
        failovers.connected(Backend.REDIS, address_text(*address))


def redis_from_settings(settings: Settings) -> redis.Redis:
    """The client every process uses: to ``REDIS_URL``'s server, or to the master the
    Sentinels of ``REDIS_SENTINELS`` name (with ``REDIS_URL``'s database and password)."""
    options: dict[str, Any] = {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_timeout": settings.reply_timeout + REDIS_SOCKET_MARGIN,
        "health_check_interval": 30,
        # One quick retry heals a stale pooled connection; more would only delay the 503.
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
    }
    if not settings.redis_sentinels:
        if settings.redis_url.startswith("redis://"):  # TCP (TLS and unix sockets keep their own classes)
            options["connection_class"] = _QuickReadyCheck
        client = redis.Redis.from_url(settings.redis_url, **options)
        kwargs = client.connection_pool.connection_kwargs
        failovers.connected(Backend.REDIS, address_text(kwargs.get("host", "?"), kwargs.get("port", "?")))
        return client
    target = settings.redis
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(settings.redis_sentinels),
        sentinel_kwargs={
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
            "socket_timeout": REDIS_CONNECT_TIMEOUT,
            "password": settings.redis_sentinel_password or None,
        },
    )
    master: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master,
        connection_class=_MasterConnection,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return master


def engine_from_settings(
    settings: Settings,
    *,
    pool_size: int = 2,
    pre_ping: bool = True,
    application_name: str = "wallet",
) -> Engine:
    """An engine on ``DATABASE_URL``. The shard worker turns ``pre_ping`` off: it retries a batch
    whose connection was lost anyway, and a ping would cost a round trip per batch."""
    engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        pool_pre_ping=pre_ping,
        connect_args={"connect_timeout": 2, "application_name": application_name},
    )
    return watched(engine)


def watched(engine: Engine) -> Engine:
    """``engine``, each new connection reporting which host it reached (``shared.failovers``):
    with several hosts in ``DATABASE_URL``, the primary of the moment."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        info = dbapi_connection.info
        failovers.connected(Backend.POSTGRESQL, address_text(info.host, info.port))

    event.listen(engine, "connect", on_connect)
    return engine


PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23"})
"""SQLSTATE classes that blame a statement's own data (data exception, integrity constraint
violation): retrying cannot help. Every other database error (a lost connection, a read-only
database after a failover, a serialization failure, a lock or statement timeout, a full disk,
a shutdown) is a condition of the database: the web answers 503, the worker retries."""


def is_database_condition(pgcode: str | None) -> bool:
    """Whether an error with this SQLSTATE (None: no answer from the server) is a condition of
    the database rather than the fault of the statement's data. The one definition, for web and worker."""
    return pgcode is None or pgcode[:2] not in PERMANENT_SQLSTATE_CLASSES


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """The Redis client of this process (thread-safe, pooled)."""
    return redis_from_settings(get_settings())
