"""``ShardWorker``: leases shards and applies their operations in batches, in its own loop.

Each turn of ``work()``:

- the periodic chores that are due, each on its own clock (``worker.chores``);
- a batch: claim, fetch, apply, finish (``worker.batches``);
- or, with nothing queued, a blocking wait on the leased shards' bells (at most a second).

RQ's internals (job records, the worker record dashboards show) are behind
``shared.rq_contract``. Redis errors a worker can survive (``REDIS_CONDITIONS``) are retried
with backoff, where they happen, with the batch still claimed; PostgreSQL conditions give up
the leases (``Leases``) and requeue the batch. SIGTERM or SIGINT stops the loop after the
current batch; a second one stops it at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from types import FrameType
from typing import TypeVar

import redis
from sqlalchemy import Engine

from shared.config import Settings
from shared.operations import OperationType
from shared.rq_contract import queues_register
from shared.rq_presence import WorkerPresence
from worker.batches import batch_apply, batch_fetch, batch_finish
from worker.chores import CHORES
from worker.claim import (
    ShardQueue,
    batch_claim,
    bells_wait,
    claimers_of,
    processing_clear,
    processing_requeue,
)
from worker.faults import FaultPoint, fault_point
from worker.leases import MAX_BACKOFF, REBALANCE_EVERY, Leases, LeasesLost, live_members, member_leave

log = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_EVERY = 1.0
"""Seconds between heartbeats while busy (RQ's worker TTL is minutes)."""

REDIS_CONDITIONS = (
    redis.ConnectionError,  # includes BusyLoadingError: loading its data after a restart
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,  # maxmemory reached
    redis.exceptions.ReadOnlyError,  # a replica, right after a failover
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
)
"""Redis away, or unable for now: waited out with backoff, never a reason to exit."""


class Stopped(Exception):
    """A stop was requested while waiting for Redis."""


class ShardWorker:
    """Leases shards dynamically and applies their operations in batches.

    ``shards`` limits which shards it may lease (default: all of them).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        connection: redis.Redis,
        name: str | None = None,
        shards: Sequence[int] | None = None,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.presence = WorkerPresence(
            connection, name or f"shard-worker-{uuid.uuid4().hex}", result_ttl=settings.result_ttl
        )
        self.name = self.presence.name
        self.leases = Leases(
            engine,
            name=self.name,
            namespace=settings.lease_namespace,
            shard_count=settings.shard_count,
            candidates=range(settings.shard_count) if shards is None else shards,
        )
        self.stop_requested = False
        self.suspended = False
        self._next_shard = 0
        self._due: dict[str, float] = {}

    @property
    def key(self) -> str:
        return self.presence.key

    @property
    def owned(self) -> list[int]:
        """The leased shards, in order."""
        return sorted(self.leases.owned)

    @property
    def shard_queues(self) -> list[ShardQueue]:
        return [ShardQueue(shard) for shard in self.owned]

    # --- the loop -------------------------------------------------------------

    def work(self, burst: bool = False) -> bool:
        """Run until stopped (``burst``: until the leased queues are empty); whether it applied anything."""
        did_work = False
        self.bootstrap()
        try:
            while not self.stop_requested:
                self.chores()
                if self.run_batch():
                    did_work = True
                    continue
                if burst:
                    break
                self._wait()
        except Stopped:
            pass
        finally:
            self.teardown()
        return did_work

    def bootstrap(self) -> None:
        """Show every shard queue and this worker in the dashboards, and take a first share of
        the shards."""
        self.retry_redis(partial(queues_register, self.connection, self.settings.shard_count))
        self.retry_redis(partial(self.presence.birth, []))
        self.rebalance()

    def chores(self) -> None:
        """The periodic work (``worker.chores.CHORES``), each on its own clock."""
        now = time.monotonic()
        for chore in CHORES:
            if now >= self._due.get(chore.name, 0.0):
                self._due[chore.name] = now + chore.every
                chore.run(self)

    def due_now(self, chore: str) -> None:
        """Run ``chore`` at the next turn (it has more to do)."""
        self._due[chore] = time.monotonic()

    def run_batch(self) -> bool:
        """Claim, fetch, apply and finish one batch; whether there was one."""
        shards = self.shard_queues
        if self.suspended:
            return False
        if not shards:
            return False
        claim = self.retry_redis(
            partial(
                batch_claim,
                self.connection,
                shards,
                worker=self.name,
                batch_size=self.settings.batch_size,
                start=self._next_shard,
            )
        )
        if claim is None:
            return False
        self._next_shard = shards.index(claim.shards[-1]) + 1
        batch = self.retry_redis(partial(batch_fetch, self.connection, self.presence, claim))
        if not batch.size:
            log.warning("claimed ids without job data: %s", claim.job_ids)
            self.retry_redis(partial(self._clear, claim.shards))
            return True
        try:
            outcome = batch_apply(self.leases, batch)
        except LeasesLost:
            # Whoever leases these shards now claims the batch again (exactly once by the ledger).
            for shard in claim.shards:
                self.retry_redis(partial(processing_requeue, self.connection, shard, claimers=[self.name]))
            log.warning("abandoned and requeued a batch of %d operations", batch.size)
            self.leases_lost()
            return True
        if any(leg.operation_type is OperationType.TRANSFER_IN for leg in outcome.legs):
            fault_point(self.settings.fault_point, FaultPoint.AFTER_TRANSFER_DEBIT)

        def finish() -> None:
            with self.connection.pipeline(transaction=False) as pipe:
                batch_finish(
                    pipe, self.connection, presence=self.presence, batch=batch, outcome=outcome, settings=self.settings
                )
                pipe.execute()

        self.retry_redis(finish)
        log.debug("batch of %d from %d shards done", batch.size, len(claim.parts))
        return True

    def _wait(self) -> None:
        """Idle: show it, then block on the leased shards' bells (a standby just sleeps)."""

        def idle() -> None:
            with self.connection.pipeline() as pipe:
                self.presence.state(pipe, busy=False, suspended=self.suspended)
                self.presence.heartbeat(pipe)
                pipe.execute()

        self.retry_redis(idle)
        shards = self.shard_queues
        if shards:
            self.retry_redis(partial(bells_wait, self.connection, shards, REBALANCE_EVERY))
        else:
            time.sleep(REBALANCE_EVERY)  # a standby: nothing leased until a shard frees up

    def teardown(self) -> None:
        """Release every lease, leave the membership, then the dashboards (in that order, so a
        stopped worker is not listed again by its last lease release)."""
        self.leases.release("stopping")
        with contextlib.suppress(redis.RedisError):
            member_leave(self.connection, self.name)
        with contextlib.suppress(redis.RedisError):
            self.presence.death()

    def rebalance(self) -> None:
        """Heartbeat, requeue what dead workers left claimed, take or give up shards."""
        self._due["rebalance"] = time.monotonic() + REBALANCE_EVERY
        live = self.retry_redis(partial(live_members, self.connection, self.name, time.time()))
        self._requeue_dead_claims(live)
        before = set(self.leases.owned)
        self.leases.rebalance(len(live))
        if self.leases.owned == before:
            return
        for shard in sorted(self.leases.owned - before):
            moved = self.retry_redis(partial(processing_requeue, self.connection, ShardQueue(shard)))
            if moved:
                log.warning("shard %02d: requeued %d operations its previous worker had claimed", shard, moved)
        self._publish()
        log.info("worker %s now serves shards %s", self.name, self.owned)

    def _requeue_dead_claims(self, live: set[str]) -> None:
        """Requeue what workers no longer alive left claimed on the shards this worker owns."""
        shards = self.shard_queues
        if not shards:
            return
        for shard, claimers in self.retry_redis(partial(claimers_of, self.connection, shards)).items():
            dead = claimers - live
            if dead:
                moved = self.retry_redis(partial(processing_requeue, self.connection, shard, claimers=dead))
                log.warning("shard %02d: requeued %d operations claimed by %s", shard.shard, moved, sorted(dead))

    def leases_lost(self) -> None:
        """After ``Leases`` gave everything up: show it, and lease again at once (``Leases``
        backs off while the database condition lasts)."""
        self._due.pop("rebalance", None)
        with contextlib.suppress(redis.RedisError):
            self._publish()

    def _publish(self) -> None:
        self.retry_redis(partial(self.presence.publish, [shard.name for shard in self.shard_queues]))

    def _clear(self, shards: Sequence[ShardQueue]) -> None:
        with self.connection.pipeline(transaction=True) as pipe:
            processing_clear(pipe, shards, worker=self.name)
            pipe.execute()

    # --- helpers ---------------------------------------------------------------------

    def retry_redis(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, retried with backoff while Redis is away or unable (``REDIS_CONDITIONS``)."""
        delay = 0.2
        while True:
            try:
                return attempt()
            except REDIS_CONDITIONS as exc:
                if self.stop_requested:
                    raise Stopped() from exc
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: stop after the current batch; a second one: stop now."""

        def request_stop(signum: int, frame: FrameType | None) -> None:
            if self.stop_requested:
                raise SystemExit(1)
            log.info("worker %s: stopping after the current batch (%s)", self.name, signal.Signals(signum).name)
            self.stop_requested = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
