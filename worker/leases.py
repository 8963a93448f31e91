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
heartbeat is older than ``MEMBER_TIMEOUT``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import redis
from sqlalchemy import Connection, text

from shared import keys

REBALANCE_EVERY = 1.0
"""Seconds between a worker's membership heartbeats and lease rebalances."""

MEMBER_TIMEOUT = 3.0
"""Seconds without a heartbeat after which a worker no longer counts as live."""

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:cls, :shard)")
_UNLOCK = text("SELECT pg_advisory_unlock(:cls, :shard)")


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
        pipe.zremrangebyscore(keys.WORKERS_KEY, "-inf", now - MEMBER_TIMEOUT)
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
