"""Process-wide clients for Redis and PostgreSQL (SQLAlchemy), built from ``shared.config``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg2
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine

from shared.config import Settings, get_settings
from shared.errors import ServiceUnavailable

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
    autocommit: bool = False,
) -> Engine:
    """An engine on ``DATABASE_URL``. The shard worker turns ``pre_ping`` off: it retries a batch
    whose connection was lost anyway, and a ping would cost a round trip per batch."""
    # autocommit: single-statement reads, with no BEGIN before nor ROLLBACK after (round trips).
    extra: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        pool_pre_ping=pre_ping,
        connect_args={"connect_timeout": 2, "application_name": application_name},
        **extra,
    )


WEB_DB_POOL = 8
"""PostgreSQL connections each web process keeps for its hot reads (balance, wallet exists)."""


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The web process's pool for its hot reads: bounded, however many requests are in flight.
    No pre-ping (a query per read); the API retries a read once on a dropped connection."""
    return engine_from_settings(
        get_settings(), pool_size=WEB_DB_POOL, pre_ping=False, application_name="wallet-web", autocommit=True
    )


DISCONNECTED = (psycopg2.OperationalError, psycopg2.InterfaceError)
"""What psycopg2 raises when PostgreSQL is gone (a restart, a terminated backend, refused
connects); the pool's raw connections raise psycopg2's errors, not SQLAlchemy's wrappers."""

DATABASE_UNAVAILABLE = "PostgreSQL is unavailable"


def read_one(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The first row of a single-statement read on the web's pool, or None.

    The hot reads go straight to the pooled DBAPI cursor: SQLAlchemy's statement and result
    layers cost more CPU than PostgreSQL spends answering. What the Core path does on a dropped
    connection is done here by hand: the connection is invalidated, the pool is recycled (a
    restart kills every pooled connection at once) and the read is tried once more on a new
    connection. A second failure is ``ServiceUnavailable``.
    """
    for attempt in (1, 2):
        engine = get_engine()
        try:
            conn = engine.raw_connection()
        except DISCONNECTED as exc:
            raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        try:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            cursor.close()
            return row
        except DISCONNECTED as exc:
            conn.invalidate(exc)
            engine.dispose()
            if attempt == 2:
                raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        finally:
            conn.close()
    raise AssertionError("unreachable")


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """The Redis client of this process (thread-safe, pooled)."""
    return redis_from_settings(get_settings())
