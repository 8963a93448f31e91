"""Readiness: can this service apply operations now? ``/readyz`` answers it for a load
balancer or an orchestrator, and ``/metrics`` exports the same readings.

Liveness (``/healthz``) only says PostgreSQL and Redis answer. Ready also needs a worker to hold
every shard's lease (a PostgreSQL advisory lock, ``worker.leases``, seen in ``pg_locks``), and
no operation waiting in a shard queue longer than ``READY_MAX_LAG``: otherwise writes would
end as 202s that do not settle in time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from shared import keys
from shared.config import Settings
from shared.errors import ServiceUnavailable
from shared.rq_contract import queue_lags, queues_suspended
from web.database import read_all

# A lock taken with pg_advisory_lock(namespace, shard) shows as classid = namespace, objid =
# shard, objsubid = 2 (the two-key form). pg_locks lists every database of the server: only
# this one's leases are this deployment's (another one's workers lock the same keys there).
_LEASED = (
    "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = %s::oid"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@dataclass(frozen=True, slots=True)
class Readings:
    """What the shards look like now."""

    unowned: list[int]
    """Shards no worker holds the lease of."""
    lags: list[float]
    """Seconds the oldest queued operation of each shard has waited."""
    live_workers: int
    suspended: bool
    """``rq suspend`` holds the workers: queued operations wait (shown, not a failed check)."""

    def lagging(self, max_lag: float) -> list[int]:
        return [shard for shard, lag in enumerate(self.lags) if lag > max_lag]


def leased_shards(settings: Settings) -> set[int]:
    rows = read_all(_LEASED, (settings.lease_namespace,), settings.shard_count + 64)
    return {int(row[0]) for row in rows}


def live_workers(connection: redis.Redis) -> int:
    """Shard workers whose heartbeat is younger than ``keys.MEMBER_TIMEOUT``."""
    return int(connection.zcount(keys.WORKERS_KEY, time.time() - keys.MEMBER_TIMEOUT, "+inf"))


def readings_get(connection: redis.Redis, settings: Settings) -> Readings:
    """The shards' owners (PostgreSQL) and queues (Redis); ``ServiceUnavailable`` if either is away."""
    leased = leased_shards(settings)
    try:
        lags, workers = queue_lags(connection, settings.shard_count), live_workers(connection)
        suspended = queues_suspended(connection)
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    return Readings(
        unowned=[shard for shard in range(settings.shard_count) if shard not in leased],
        lags=lags,
        live_workers=workers,
        suspended=suspended,
    )
