"""Shard leases: which shards a worker may write, enforced by PostgreSQL.

A worker holds a PostgreSQL session advisory lock per shard it serves
(``pg_advisory_lock(LEASE_NAMESPACE, shard)``, see ``shared.config``), on the
very connection its batch transactions run on. Only one session can hold a
lock, so only one worker writes a shard; when a worker dies its connection
closes and its locks are free at once; when a worker loses its connection it
loses its locks and cannot write with them any more (fencing). Correctness
does not rest on this alone: the SQL stays idempotent and guarded.

Workers share the shards without a coordinator. Each heartbeats into the
``wallets:workers`` sorted set; every ``REBALANCE_EVERY`` seconds it computes
its fair share, ``ceil(shards / live workers)``, releases what it holds above
it and tries to lock free shards below it. A new worker therefore receives
shards within seconds, and a dead one's shards are taken over as soon as its
heartbeat is older than ``keys.MEMBER_TIMEOUT``.

``Leases`` keeps a worker's leases with their connection, and the policy for PostgreSQL
being unavailable: a condition of the database (``is_transient``) gives up every lease, and the
worker leases again after a pause that doubles while the condition lasts.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import redis
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shared import keys
from shared.connections import is_database_condition

log = logging.getLogger(__name__)

REBALANCE_EVERY = 1.0
"""Seconds between a worker's membership heartbeats and lease rebalances."""

MIN_BACKOFF = 0.2
"""Pause, in seconds, before leasing again after a second consecutive database failure (the
first leases again at once: a single dropped connection costs no pause); it doubles up to
``MAX_BACKOFF``."""

MAX_BACKOFF = 10.0
"""Longest pause, in seconds, between attempts while PostgreSQL is unavailable."""

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:cls, :shard)")
_UNLOCK = text("SELECT pg_advisory_unlock(:cls, :shard)")
_UNLOCK_ALL = text("SELECT pg_advisory_unlock_all()")


@dataclass(frozen=True, slots=True)
class Plan:
    release: list[int]
    """Shards to give up, highest first."""
    wanted: int
    """How many more shards to try to lock."""


def rebalance_plan(owned: set[int], live_workers: int, shard_count: int) -> Plan:
    """What a worker holding ``owned`` should do when ``live_workers`` share ``shard_count`` shards."""
    fair = math.ceil(shard_count / max(live_workers, 1))
    surplus = len(owned) - fair
    if surplus > 0:
        return Plan(release=sorted(owned, reverse=True)[:surplus], wanted=0)
    return Plan(release=[], wanted=-surplus)


def live_members(connection: redis.Redis, name: str, now: float) -> set[str]:
    """Heartbeat ``name`` and return the live workers (itself included), in one round trip."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.WORKERS_KEY, {name: now})
        pipe.zremrangebyscore(keys.WORKERS_KEY, "-inf", now - keys.MEMBER_TIMEOUT)
        pipe.zrange(keys.WORKERS_KEY, 0, -1)
        return {member.decode() for member in pipe.execute()[-1]}


def member_leave(connection: redis.Redis, name: str) -> None:
    connection.zrem(keys.WORKERS_KEY, name)


def lease_try(conn: Connection, namespace: int, shard: int) -> bool:
    locked = bool(conn.execute(_TRY_LOCK, {"cls": namespace, "shard": shard}).scalar_one())
    conn.commit()
    return locked


def lease_release(conn: Connection, namespace: int, shard: int) -> None:
    conn.execute(_UNLOCK, {"cls": namespace, "shard": shard})
    conn.commit()


def candidate_order(name: str, shard_count: int) -> list[int]:
    """The order a worker tries free shards in: rotated by its name, so workers starting
    together do not all race for shard 0."""
    start = zlib.crc32(name.encode()) % shard_count
    return [(start + i) % shard_count for i in range(shard_count)]


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a condition of the database: retried with backoff, never a final answer."""
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or is_database_condition(getattr(exc.orig, "pgcode", None))


class LeasesLost(Exception):
    """The lease connection met a condition of the database: every lease is gone with it."""


class Leases:
    """The shards one worker may write: advisory locks held on its one PostgreSQL connection,
    the only connection its transactions run on (without the leases, nothing is written)."""

    def __init__(self, engine: Engine, *, name: str, namespace: int, shard_count: int, candidates: Collection[int]):
        self.engine = engine
        self.name = name
        self.namespace = namespace
        self.shard_count = shard_count
        self.candidates = set(candidates)
        self.owned: set[int] = set()
        self.connection: Connection | None = None
        self._failures = 0
        self._retry_at = 0.0

    def rebalance(self, live_workers: int) -> None:
        """Give up shards above the fair share among ``live_workers``, lease free ones below it.
        Does nothing while backing off."""
        if self.connection is None and time.monotonic() < self._retry_at:
            return
        plan = rebalance_plan(self.owned, live_workers, self.shard_count)
        try:
            if self.connection is None:
                self.connection = self.engine.connect()
            for shard in plan.release:
                lease_release(self.connection, self.namespace, shard)
                self.owned.discard(shard)
            wanted = plan.wanted
            for shard in candidate_order(self.name, self.shard_count):
                if wanted <= 0:
                    break
                if shard in self.owned or shard not in self.candidates:
                    continue
                if lease_try(self.connection, self.namespace, shard):
                    self.owned.add(shard)
                    wanted -= 1
        except SQLAlchemyError as exc:
            if not is_transient(exc):
                raise
            self.lost(exc)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction on the lease connection. A condition of the database in it gives up
        every lease and raises ``LeasesLost``; any other error passes unchanged."""
        if self.connection is None:
            raise LeasesLost("no lease connection")
        try:
            with self.connection.begin():
                yield self.connection
        except SQLAlchemyError as exc:
            if is_transient(exc):
                self.lost(exc)
                raise LeasesLost(str(exc)) from exc
            raise

    def healthy(self) -> None:
        """A write went through: the next failure leases again at once."""
        self._failures = 0

    def lost(self, exc: BaseException) -> None:
        """Give up every lease after a condition of the database; lease again after the backoff."""
        self._failures += 1
        delay = 0.0 if self._failures == 1 else min(MIN_BACKOFF * 2 ** (self._failures - 2), MAX_BACKOFF)
        self._retry_at = time.monotonic() + delay
        reason = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0][:120]
        self.drop(f"PostgreSQL: {exc.__class__.__name__} ({reason}); leasing again in {delay:.1f}s")

    def release(self, why: str) -> None:
        """Give up every lease on a graceful stop: unlocked before the connection closes, so the
        next worker to rebalance finds them free (a closed connection's backend frees its locks
        only once it has ended, a moment later)."""
        if self.connection is not None and self.owned:
            with contextlib.suppress(SQLAlchemyError):
                self.connection.execute(_UNLOCK_ALL)
                self.connection.commit()
        self.drop(why, level=logging.INFO)

    def drop(self, why: str, level: int = logging.WARNING) -> None:
        """Forget every lease: closing the connection releases its locks (if it still exists)."""
        if self.connection is not None:
            # invalidate, not close: close would hand the session, locks and all, back to the pool.
            with contextlib.suppress(SQLAlchemyError):
                self.connection.invalidate()
                self.connection.close()
            self.connection = None
        if self.owned:
            log.log(level, "worker %s gives up shards %s: %s", self.name, sorted(self.owned), why)
            self.owned.clear()
