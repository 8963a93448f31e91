"""The web process's PostgreSQL pool: every API read and write is one plain SQL statement on it
(``read_one``, ``read_all``, ``write``). Workers use their own engines (``shared.connections``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg2
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from shared.config import get_settings
from shared.connections import is_database_condition, watched
from shared.errors import ServiceUnavailable, StatementRefused

WEB_DB_POOL = 12
"""PostgreSQL connections each web process keeps for its requests (every API read and write).
A fixed pool, no overflow: a connection opened for a burst and closed when returned costs a
PostgreSQL backend fork per request on the machine's own cores (measured: 4-7% of a web
process's CPU under the GET benchmark); a request waits for a free one instead."""

WEB_POOL_WAIT = 1.0
"""Seconds a web request waits for a pooled connection before answering 503."""

WEB_STATEMENT_TIMEOUT_MS = 1500
"""Longest a web statement may run (a locked table, a stalled database): then 503, not a hang."""


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The web process's pool: bounded, however many requests are in flight, with bounded waits.
    No pre-ping (a query per read); a statement that meets a dropped connection is tried once more."""
    engine = create_engine(
        get_settings().sqlalchemy_url,
        pool_size=WEB_DB_POOL,
        max_overflow=0,
        pool_timeout=WEB_POOL_WAIT,
        pool_pre_ping=False,
        # autocommit: single-statement reads and writes, with no BEGIN before nor ROLLBACK after.
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        connect_args={
            "connect_timeout": 2,
            "application_name": "wallet-web",
            "options": f"-c statement_timeout={WEB_STATEMENT_TIMEOUT_MS} -c lock_timeout={WEB_STATEMENT_TIMEOUT_MS}"
            " -c timezone=UTC",
        },
    )
    return watched(engine)


DISCONNECTED = (psycopg2.OperationalError, psycopg2.InterfaceError)
"""What psycopg2 raises when PostgreSQL is gone (a restart, a terminated backend, refused
connects), or a statement was cancelled; the pool's raw connections raise psycopg2's errors,
not SQLAlchemy's wrappers."""

DATABASE_UNAVAILABLE = "PostgreSQL is unavailable"

Params = tuple[Any, ...] | dict[str, Any]
"""A statement's parameters: positional (``%s``) or named (``%(name)s``)."""


def _connection_lost(exc: Exception, raw: Any) -> bool:
    """Whether ``exc`` left the connection unusable (as opposed to a cancelled statement, a lock
    or statement timeout, on a connection that still works)."""
    return bool(raw.dbapi_connection is None or raw.dbapi_connection.closed) or getattr(exc, "pgcode", None) is None


def _run(sql: str, params: Params, fetch: int) -> list[tuple[Any, ...]]:
    """Run one statement on the web's pool; ``fetch`` rows at most (0: none).

    The hot reads go straight to the pooled DBAPI cursor: SQLAlchemy's statement and result
    layers cost more CPU than PostgreSQL spends answering. What the Core path does on a dropped
    connection is done here by hand: the connection is invalidated, the pool is recycled (a
    restart kills every pooled connection at once) and the statement is tried once more on a new
    connection (so writes through here must be idempotent). A second failure, a statement or
    lock timeout, any other condition of the database, or no free connection within
    ``WEB_POOL_WAIT`` is ``ServiceUnavailable``; a statement whose data PostgreSQL refuses
    (SQLSTATE classes 22, 23) is ``StatementRefused``.
    """
    for attempt in (1, 2):
        engine = get_engine()
        try:
            conn = engine.raw_connection()
        except (*DISCONNECTED, SQLAlchemyTimeout) as exc:
            raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        try:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            rows = [tuple(row) for row in cursor.fetchmany(fetch)] if fetch else []
            cursor.close()
            return rows
        except DISCONNECTED as exc:
            if not _connection_lost(exc, conn):
                raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
            conn.invalidate(exc)
            engine.dispose()
            if attempt == 2:
                raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        except psycopg2.Error as exc:  # autocommit: the connection is clean again
            if is_database_condition(exc.pgcode):  # e.g. read-only after a failover
                raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
            raise StatementRefused(f"PostgreSQL refused the statement: {exc.pgcode}") from exc
        finally:
            conn.close()
    raise AssertionError("unreachable")


def read_one(sql: str, params: Params) -> tuple[Any, ...] | None:
    """The first row of a single-statement read on the web's pool, or None."""
    rows = _run(sql, params, 1)
    return rows[0] if rows else None


def read_all(sql: str, params: Params, limit: int) -> list[tuple[Any, ...]]:
    """Up to ``limit`` rows of a single-statement read on the web's pool."""
    return _run(sql, params, limit)


def write(sql: str, params: Params) -> None:
    """One idempotent statement (it may run twice: ``INSERT ... ON CONFLICT DO NOTHING``)."""
    _run(sql, params, 0)
