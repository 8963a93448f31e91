"""Process-wide clients for Redis and PostgreSQL (SQLAlchemy), built from ``shared.config``."""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine

from shared.config import Settings, get_settings

REDIS_CONNECT_TIMEOUT = 0.5
"""Seconds to wait for a Redis connection: an outage must answer 503 quickly, not hang."""

REDIS_SOCKET_MARGIN = 2.0
"""Seconds a Redis read may take beyond the longest BLPOP we issue."""


def redis_from_settings(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.reply_timeout + REDIS_SOCKET_MARGIN,
        health_check_interval=30,
        # One quick retry heals a stale pooled connection; more would only delay the 503.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
    )


def engine_from_settings(
    settings: Settings,
    *,
    pool_size: int = 2,
    pre_ping: bool = True,
    application_name: str = "wallet",
) -> Engine:
    """An engine on ``DATABASE_URL``. The shard worker turns ``pre_ping`` off: it retries a batch
    whose connection was lost anyway, and a ping would cost a round trip per batch."""
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        pool_pre_ping=pre_ping,
        connect_args={"connect_timeout": 2, "application_name": application_name},
    )


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
