"""``ShardWorker``: leases shards and applies their operations in batches, in its own loop.

Each turn of ``work()``:

- periodic chores, each on its own clock: settle operations answered 202 (``worker.pending``,
  every 2 s) and redo what crashes left undone of transfers (``worker.transfers``, as often),
  share the shards among live workers (``worker.leases``, every second, which also requeues
  what dead workers left claimed), expired jobs out of the finished registries (every second,
  so dashboards count what they can list), RQ's registry cleanup (every minute);
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
from sqlalchemy.exc import SQLAlchemyError

from shared.config import Settings
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.rq_contract import WorkerPresence, finished_trim, queues_register
from worker.apply import ledger_apply
from worker.batches import batch_apply, batch_fetch, batch_finish
from worker.claim import (
    ShardQueue,
    batch_claim,
    bells_wait,
    claimers_of,
    processing_clear,
    processing_requeue,
)
from worker.faults import FaultPoint, fault_point
from worker.holds import SWEEP_BATCH as HOLDS_SWEEP_BATCH
from worker.holds import holds_due
from worker.leases import MAX_BACKOFF, REBALANCE_EVERY, Leases, LeasesLost, live_members, member_leave
from worker.pending import (
    PENDING_GRACE,
    SETTLE_BATCH,
    SETTLE_EVERY,
    jobs_gone,
    pending_due,
    pending_settle,
    unsettled_sort,
)
from worker.transfers import (
    SWEEP_BATCH,
    TRANSFER_GRACE,
    legs_enqueue,
    refunds_refused,
    transfers_due,
    transfers_set_aside,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_EVERY = 1.0
"""Seconds between heartbeats while busy (RQ's worker TTL is minutes)."""

REGISTRY_CLEANUP_EVERY = 60.0
"""Seconds between RQ's registry cleanups."""

FINISHED_TRIM_EVERY = 1.0
"""Seconds between drops of expired jobs from the leased queues' finished registries."""

SUSPENSION_CHECK_EVERY = 1.0
"""Seconds between checks of RQ's suspension flag (``rq suspend``)."""

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
        self._retry_redis(partial(queues_register, self.connection, self.settings.shard_count))
        self._retry_redis(partial(self.presence.birth, []))
        self.rebalance()

    def chores(self) -> None:
        """The periodic work, each on its own clock."""
        if self._due_now("settle", SETTLE_EVERY):
            self.pending_settle()  # before rebalancing: a lease it finds lost is taken again at once
            self.transfers_sweep()
            self.holds_expire()
        if self._due_now("rebalance", REBALANCE_EVERY):
            self.rebalance()
        if self._due_now("cleanup", REGISTRY_CLEANUP_EVERY):
            self._retry_redis(self.presence.clean_registries)
        if self._due_now("trim", FINISHED_TRIM_EVERY):
            self._retry_redis(partial(finished_trim, self.connection, [shard.name for shard in self.shard_queues]))
        if self._due_now("suspension", SUSPENSION_CHECK_EVERY):
            suspended = self._retry_redis(self.presence.suspended)
            if suspended != self.suspended:
                log.info("worker %s: %s", self.name, "suspended (rq resume ends it)" if suspended else "resumed")
            self.suspended = suspended

    def run_batch(self) -> bool:
        """Claim, fetch, apply and finish one batch; whether there was one."""
        shards = self.shard_queues
        if self.suspended:
            return False
        if not shards:
            return False
        claim = self._retry_redis(
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
        batch = self._retry_redis(partial(batch_fetch, self.connection, self.presence, claim))
        if not batch.size:
            log.warning("claimed ids without job data: %s", claim.job_ids)
            self._retry_redis(partial(self._clear, claim.shards))
            return True
        try:
            outcome = batch_apply(self.leases, batch)
        except LeasesLost:
            # Whoever leases these shards now claims the batch again (exactly once by the ledger).
            for shard in claim.shards:
                self._retry_redis(partial(processing_requeue, self.connection, shard, claimers=[self.name]))
            log.warning("abandoned and requeued a batch of %d operations", batch.size)
            self._lost_leases()
            return True
        if any(leg.operation_type is OperationType.TRANSFER_IN for leg in outcome.legs):
            fault_point(self.settings.fault_point, FaultPoint.AFTER_TRANSFER_DEBIT)

        def finish() -> None:
            with self.connection.pipeline(transaction=False) as pipe:
                batch_finish(
                    pipe, self.connection, presence=self.presence, batch=batch, outcome=outcome, settings=self.settings
                )
                pipe.execute()

        self._retry_redis(finish)
        log.debug("batch of %d from %d shards done", batch.size, len(claim.parts))
        return True

    def _wait(self) -> None:
        """Idle: show it, then block on the leased shards' bells (a standby just sleeps)."""

        def idle() -> None:
            with self.connection.pipeline() as pipe:
                self.presence.state(pipe, busy=False, suspended=self.suspended)
                self.presence.heartbeat(pipe)
                pipe.execute()

        self._retry_redis(idle)
        shards = self.shard_queues
        if shards:
            self._retry_redis(partial(bells_wait, self.connection, shards, REBALANCE_EVERY))
        else:
            time.sleep(REBALANCE_EVERY)  # a standby: nothing leased until a shard frees up

    def teardown(self) -> None:
        """Release every lease, leave the membership, then the dashboards (in that order, so a
        stopped worker is not listed again by its last lease release)."""
        self.leases.drop("stopping", level=logging.INFO)
        with contextlib.suppress(redis.RedisError):
            member_leave(self.connection, self.name)
        with contextlib.suppress(redis.RedisError):
            self.presence.death()

    # --- chores ------------------------------------------------------------------

    def pending_settle(self) -> int:
        """Settle the due pending records of the leased shards (``worker.pending``); how many."""
        if self.leases.connection is None or not self.leases.owned:
            return 0
        try:
            with self.leases.transaction() as conn:
                due = pending_due(conn, self.owned, grace=PENDING_GRACE, limit=SETTLE_BATCH)
            if not due:
                return 0
            unsettled = self._retry_redis(partial(unsettled_sort, self.connection, due))
            settled = [*unsettled.gone, *unsettled.refused]
            if not settled:
                return 0
            with self.leases.transaction() as conn:
                refusals = {request.operation_id: Rejection.RATE_LIMITED for request in unsettled.refused}
                ledger_apply(conn, settled, shard_count=self.settings.shard_count, refusals=refusals)
                pending_settle(conn, [request.operation_id for request in settled])
        except LeasesLost:
            self._lost_leases()
            return 0
        except SQLAlchemyError:
            log.exception("could not settle pending operations")
            return 0
        log.info(
            "settled %d operations answered 202 whose jobs Redis no longer holds (%d refused by a rate limit)",
            len(settled),
            len(unsettled.refused),
        )
        return len(settled)

    def transfers_sweep(self) -> int:
        """Redo the next leg of the leased shards' transfers pending for too long
        (``worker.transfers``): enqueue a credit whose job Redis no longer holds, apply a
        refund. How many legs it redid."""
        if self.leases.connection is None or not self.leases.owned:
            return 0
        settings = self.settings
        refunded = 0
        try:
            with self.leases.transaction() as conn:
                undone = transfers_due(conn, self.owned, grace=TRANSFER_GRACE, limit=SWEEP_BATCH)
                transfers_set_aside(conn, undone.stalled)
            if undone.refunds:
                with self.leases.transaction() as conn:
                    results = ledger_apply(conn, undone.refunds, shard_count=settings.shard_count).results
                    refunded = sum(r.status is OperationStatus.APPLIED for r in results)
                    transfers_set_aside(conn, refunds_refused(undone.refunds, results))
            lost = self._retry_redis(partial(jobs_gone, self.connection, undone.credits)) if undone.credits else []
        except LeasesLost:
            self._lost_leases()
            return 0
        except SQLAlchemyError:
            log.exception("could not sweep pending transfers")
            return 0

        def enqueue() -> None:
            with self.connection.pipeline(transaction=False) as pipe:
                legs_enqueue(
                    pipe,
                    self.connection,
                    lost,
                    shard_count=settings.shard_count,
                    result_ttl=settings.result_ttl,
                    failure_ttl=settings.failure_ttl,
                )
                pipe.execute()

        if lost:
            self._retry_redis(enqueue)
        redone = len(lost) + refunded
        if redone:
            log.warning("transfers: enqueued %d lost credits again, applied %d refunds", len(lost), refunded)
        return redone

    def holds_expire(self) -> int:
        """Release the leased shards' active holds past their ``expires_at`` (``worker.holds``);
        how many."""
        if self.leases.connection is None or not self.leases.owned:
            return 0
        try:
            with self.leases.transaction() as conn:
                due = holds_due(conn, self.owned, limit=HOLDS_SWEEP_BATCH)
                if due:
                    ledger_apply(conn, due, shard_count=self.settings.shard_count)
        except LeasesLost:
            self._lost_leases()
            return 0
        except SQLAlchemyError:
            log.exception("could not expire holds")
            return 0
        if due:
            log.info("expired %d holds", len(due))
        if len(due) == HOLDS_SWEEP_BATCH:  # more are due: the next chores (after a batch) go on
            self._due["settle"] = time.monotonic()
        return len(due)

    def rebalance(self) -> None:
        """Heartbeat, requeue what dead workers left claimed, take or give up shards."""
        self._due["rebalance"] = time.monotonic() + REBALANCE_EVERY
        live = self._retry_redis(partial(live_members, self.connection, self.name, time.time()))
        self._sweep(live)
        before = set(self.leases.owned)
        self.leases.rebalance(len(live))
        if self.leases.owned == before:
            return
        for shard in sorted(self.leases.owned - before):
            moved = self._retry_redis(partial(processing_requeue, self.connection, ShardQueue(shard)))
            if moved:
                log.warning("shard %02d: requeued %d operations its previous worker had claimed", shard, moved)
        self._publish()
        log.info("worker %s now serves shards %s", self.name, self.owned)

    def _sweep(self, live: set[str]) -> None:
        """Requeue what workers no longer alive left claimed on the shards this worker owns."""
        shards = self.shard_queues
        if not shards:
            return
        for shard, claimers in self._retry_redis(partial(claimers_of, self.connection, shards)).items():
            dead = claimers - live
            if dead:
                moved = self._retry_redis(partial(processing_requeue, self.connection, shard, claimers=dead))
                log.warning("shard %02d: requeued %d operations claimed by %s", shard.shard, moved, sorted(dead))

    def _lost_leases(self) -> None:
        """After ``Leases`` gave everything up: show it, and lease again at once (``Leases``
        backs off while the database condition lasts)."""
        self._due.pop("rebalance", None)
        with contextlib.suppress(redis.RedisError):
            self._publish()

    def _publish(self) -> None:
        self._retry_redis(partial(self.presence.publish, [shard.name for shard in self.shard_queues]))

    def _clear(self, shards: Sequence[ShardQueue]) -> None:
        with self.connection.pipeline(transaction=True) as pipe:
            processing_clear(pipe, shards, worker=self.name)
            pipe.execute()

    # --- helpers ---------------------------------------------------------------------

    def _due_now(self, chore: str, every: float) -> bool:
        now = time.monotonic()
        if now < self._due.get(chore, 0.0):
            return False
        self._due[chore] = now + every
        return True

    def _retry_redis(self, attempt: Callable[[], T]) -> T:
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
