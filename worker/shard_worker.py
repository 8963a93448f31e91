"""``ShardWorker``: an RQ ``SimpleWorker`` that applies its shards' jobs in batches.

RQ's own ``work()`` loop runs unchanged (birth and death registration,
heartbeats, maintenance, suspension, signals), so the worker shows in
rq-dashboard like any other. Two hooks change: ``dequeue_job_and_maintain_ttl``
keeps the worker's shard leases up to date (``worker.leases``) and claims a
batch from the leased shards (``worker.claim``); ``execute_job`` applies it in
one PostgreSQL transaction (``worker.apply``) on the connection that holds the
leases, then finishes every job and replies in one Redis pipeline
(``worker.bookkeeping``).

Failure handling sits here, next to the loop, not in the business logic: a
Redis outage is retried with backoff while the batch stays claimed; losing the
PostgreSQL connection loses the leases with it, so the batch is abandoned to
whichever worker leases its shards next (it requeues it); an operation that can
never apply goes to RQ's failed registry alone.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import redis
from rq import Queue, SimpleWorker, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker import WorkerStatus
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shared.config import Settings
from shared.errors import MalformedMessage
from shared.messages import OPERATION_JOB, OperationRequest, OperationResult, Rejection
from shared.sharding import queue_name
from worker.apply import operation_refuse, operations_apply
from worker.bookkeeping import Failed, Finished, batch_finish
from worker.claim import (
    Claim,
    ShardQueue,
    batch_claim,
    bells_wait,
    claimers_of,
    processing_clear,
    processing_requeue,
)
from worker.leases import (
    REBALANCE_EVERY,
    candidate_order,
    lease_release,
    lease_try,
    live_members,
    member_leave,
    rebalance_plan,
)
from worker.pending import PENDING_GRACE, SETTLE_BATCH, SETTLE_EVERY, jobs_gone, pending_due, pending_settle

log = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_EVERY = 1.0
"""Seconds between worker heartbeats while busy (RQ's worker TTL is minutes)."""

REGISTRY_CLEANUP_EVERY = 60
"""Seconds between RQ's registry cleanups (RQ's default, 10 minutes, lets the finished
registry grow by 10 minutes of operations before expired entries are dropped)."""

SUSPENSION_CHECK_EVERY = 1.0
"""Seconds between checks of RQ's suspension flag (``rq suspend``)."""

MIN_BACKOFF = 0.2
"""First pause, in seconds, after PostgreSQL or Redis failed; it doubles up to ``MAX_BACKOFF``."""

MAX_BACKOFF = 10.0
"""Longest pause, in seconds, between retries while PostgreSQL or Redis is down."""


def job_request(job: Job) -> OperationRequest:
    """The operation a job carries, or ``MalformedMessage`` if it is not one of ours."""
    try:
        if job.func_name != OPERATION_JOB or len(job.args) != 1 or job.kwargs:
            raise MalformedMessage(f"not an operation job: {job.func_name}")
        return OperationRequest.from_wire(job.args[0])
    except MalformedMessage:
        raise
    except Exception as exc:  # rq raises assorted errors for undecodable job data
        raise MalformedMessage(f"undecodable job: {exc!r}") from exc


PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23"})
"""SQLSTATE classes that blame the operation's own data (data exception, integrity constraint
violation): retrying cannot help. Every other database error (a lost connection, a read-only
database after a failover, a serialization failure, a lock or statement timeout, a full disk,
a shutdown) is a condition of the database and passes."""


def _is_transient(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` is a condition of the database, retried with backoff and never a final answer."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "pgcode", None)
    return exc.connection_invalidated or code is None or code[:2] not in PERMANENT_SQLSTATE_CLASSES


REDIS_CONDITIONS = (
    redis.ConnectionError,  # includes BusyLoadingError: loading its data after a restart
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,  # maxmemory reached
    redis.exceptions.ReadOnlyError,  # a replica, right after a failover
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
)
"""Redis away, or unable for now: waited out with backoff, never a reason to exit."""


def redis_condition(exc: Exception) -> bool:
    return isinstance(exc, REDIS_CONDITIONS)


class BatchAbandoned(Exception):
    """The leases were lost mid-batch; the batch is left to the shards' next owner."""


class ShardWorker(SimpleWorker):
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
        super().__init__(
            [],
            name=name,
            connection=connection,
            serializer=JSONSerializer,
            default_result_ttl=settings.result_ttl,
            maintenance_interval=REGISTRY_CLEANUP_EVERY,
        )
        self.engine = engine
        self.settings = settings
        self.candidates = set(range(settings.shard_count) if shards is None else shards)
        self.owned: dict[int, ShardQueue] = {}
        self._db: Connection | None = None
        self._rebalanced_at = 0.0
        self._db_retry_delay = 0.0
        self._db_retry_at = 0.0
        self._claim: Claim | None = None
        self._jobs: list[Job] = []
        self._next_shard = 0
        self._settled_at = 0.0
        self._backoff = 0.0
        self._failures = 0
        self._suspension_checked: datetime | None = None

    @property
    def shard_queues(self) -> list[ShardQueue]:
        """The leased shards, in shard order."""
        return [self.owned[shard] for shard in sorted(self.owned)]

    # --- RQ hooks -------------------------------------------------------

    def check_for_suspension(self, burst: bool) -> None:
        """RQ asks Redis whether ``rq suspend`` was run before every job; once a second is enough."""
        if self._suspension_checked and (now() - self._suspension_checked).total_seconds() < SUSPENSION_CHECK_EVERY:
            return
        super().check_for_suspension(burst)
        self._suspension_checked = now()

    def register_birth(self) -> None:
        self._retry_redis(super().register_birth)

    def run_maintenance_tasks(self) -> None:
        self._retry_redis(super().run_maintenance_tasks)

    def teardown(self) -> None:
        super().teardown()  # type: ignore[no-untyped-call]
        self._leases_drop("stopping", level=logging.INFO)
        with contextlib.suppress(redis.RedisError):
            member_leave(self.connection, self.name)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, in one round trip, and at most once a second unless given a pipeline."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        if timeout is None and self.last_heartbeat and (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY:
            return

        def beat() -> None:
            with self.connection.pipeline() as pipe:
                super(ShardWorker, self).heartbeat(timeout, pipeline=pipe)
                pipe.execute()

        self._retry_redis(beat)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Claim the next batch; hand RQ its first job. ``timeout=None`` (burst) never blocks."""
        while True:
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            if time.monotonic() - self._settled_at >= SETTLE_EVERY:
                self.pending_settle()  # before rebalancing: a lease it finds lost is taken again at once
            if time.monotonic() - self._rebalanced_at >= REBALANCE_EVERY:
                self.rebalance()
            shards = self.shard_queues
            claim = (
                self._retry_redis(
                    partial(
                        batch_claim,
                        self.connection,
                        shards,
                        worker=self.name,
                        batch_size=self.settings.batch_size,
                        start=self._next_shard,
                    )
                )
                if shards
                else None
            )
            if claim is not None:
                self._next_shard = self.shard_queues.index(claim.shards[-1]) + 1
                jobs = self._retry_redis(partial(self._fetch, claim))
                if jobs:
                    self._claim, self._jobs = claim, jobs
                    return jobs[0], claim.shards[0].queue
                log.warning("claimed ids without job data: %s", claim.job_ids)
                self._retry_redis(partial(self._clear, claim))
                continue
            if timeout is None:
                return None
            self._retry_redis(self._idle)
            wait = min(timeout, REBALANCE_EVERY)
            if shards:
                self._retry_redis(partial(bells_wait, self.connection, shards, wait))
            else:
                time.sleep(wait)  # a standby: nothing leased until a shard frees up

    def _idle(self) -> None:
        self.procline(f"Listening on {len(self.owned)} shards")  # type: ignore[no-untyped-call]
        with self.connection.pipeline() as pipe:
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            self.heartbeat(pipeline=pipe)
            pipe.execute()

    def _fetch(self, claim: Claim) -> list[Job]:
        """The claimed jobs (those whose data still exists), marking the worker busy, in one round trip."""
        with self.connection.pipeline() as pipe:
            for job_id in claim.job_ids:
                pipe.hgetall(Job.key_for(job_id))
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            raw = pipe.execute()[: len(claim.job_ids)]
        jobs = []
        for job_id, data in zip(claim.job_ids, raw, strict=True):
            if data:
                job = Job(job_id, connection=self.connection, serializer=self.serializer)
                job.restore(data)
                jobs.append(job)
        return jobs

    def execute_job(self, job: Job, queue: Queue) -> None:
        claim, jobs = self._claim, self._jobs
        assert claim is not None
        assert jobs[0] is job
        self._claim, self._jobs = None, []
        started_at = now()
        requests: list[tuple[Job, OperationRequest]] = []
        failed: list[Failed] = []
        for item in jobs:
            try:
                requests.append((item, job_request(item)))
            except MalformedMessage as exc:
                failed.append(Failed(item, str(exc)))
        try:
            outcomes = self._apply([request for _, request in requests])
        except BatchAbandoned:
            # Whoever leases these shards now will claim the batch again (exactly once by the ledger).
            for shard in claim.shards:
                self._retry_redis(partial(processing_requeue, self.connection, shard, claimers=[self.name]))
            log.warning("abandoned and requeued a batch of %d operations", len(jobs))
            return
        finished: list[Finished] = []
        for (item, _), outcome in zip(requests, outcomes, strict=True):
            if isinstance(outcome, OperationResult):
                finished.append(Finished(item, outcome))
            else:
                failed.append(Failed(item, outcome))
        for poison in failed:
            log.error("job %s from %s failed: %s", poison.job.id, poison.job.origin, poison.reason)

        def finish() -> None:
            # Not a MULTI: every command in it may safely run twice if the batch is finished again.
            with self.connection.pipeline(transaction=False) as pipe:
                batch_finish(
                    pipe,
                    worker_key=self.key,
                    worker_name=self.name,
                    started_at=started_at,
                    finished=finished,
                    failed=failed,
                    reply_ttl=self.settings.reply_ttl,
                    default_result_ttl=self.settings.result_ttl,
                )
                processing_clear(pipe, claim.shards, worker=self.name)
                self.heartbeat(pipeline=pipe)
                pipe.execute()

        self._retry_redis(finish)
        log.debug("batch of %d from %d shards done", len(jobs), len(claim.parts))

    # --- applying, with the failure policy --------------------------------

    def _apply(self, requests: list[OperationRequest]) -> list[OperationResult | str]:
        """One result per request, or the reason it can never apply (and could not be recorded)."""
        if not requests:
            return []
        try:
            return list[OperationResult | str](self._transaction(requests))
        except BatchAbandoned:
            raise
        except Exception as exc:  # neither a database condition nor a lost lease: this batch's own fault
            if len(requests) == 1:
                log.exception("operation %s cannot be applied", requests[0].operation_id)
                return [self._refuse(requests[0], f"cannot be applied: {exc.__class__.__name__}: {exc}")]
        # One bad operation must not hold back the others: isolate it.
        return [outcome for request in requests for outcome in self._apply([request])]

    def _refuse(self, request: OperationRequest, reason: str) -> OperationResult | str:
        """Record an operation that can never apply as rejected, in the ledger, so that its final
        answer never changes (a requeue or a retry finds the row); ``reason`` if even that fails."""
        try:
            [result] = self._transaction([request], partial(operation_refuse, rejection=Rejection.UNPROCESSABLE))
            return result
        except BatchAbandoned:
            raise
        except Exception:
            log.exception("operation %s could not be recorded as rejected", request.operation_id)
            return reason

    def _transaction(
        self,
        requests: list[OperationRequest],
        refuse: Callable[[Connection, OperationRequest], OperationResult] | None = None,
    ) -> list[OperationResult]:
        """Apply (or ``refuse``) on the connection holding the leases: without them, nothing is written.

        A condition of the database (``_is_transient``) gives up the leases and the batch, and
        backs off before leasing again: the batch is applied later, never answered as failed.
        """
        if self._db is None:
            raise BatchAbandoned()
        try:
            with self._db.begin():
                if refuse is None:
                    results = operations_apply(self._db, requests)
                else:
                    results = [refuse(self._db, request) for request in requests]
        except SQLAlchemyError as exc:
            if _is_transient(exc):
                self._back_off(exc)
                raise BatchAbandoned() from exc
            raise
        self._failures = 0
        return results

    def _back_off(self, exc: SQLAlchemyError) -> None:
        """Give up the leases after a condition of the database; lease again after a pause that
        doubles while the condition lasts (a new session: a read-only one is not kept). The first
        failure leases again at once: a single dropped connection costs no pause."""
        self._failures += 1
        self._backoff = 0.0 if self._failures == 1 else min(MIN_BACKOFF * 2 ** (self._failures - 2), MAX_BACKOFF)
        self._db_retry_delay, self._db_retry_at = self._backoff, time.monotonic() + self._backoff
        self._leases_drop(f"PostgreSQL: {exc.__class__.__name__}; retrying in {self._backoff}s")

    # --- operations answered 202 ------------------------------------------------

    def pending_settle(self) -> int:
        """Settle the due pending records of the leased shards (``worker.pending``); how many."""
        self._settled_at = time.monotonic()
        if self._db is None or not self.owned:
            return 0
        try:
            with self._db.begin():
                due = pending_due(self._db, sorted(self.owned), grace=PENDING_GRACE, limit=SETTLE_BATCH)
            gone = self._retry_redis(partial(jobs_gone, self.connection, due)) if due else []
            if not gone:
                return 0
            with self._db.begin():
                operations_apply(self._db, gone)
                pending_settle(self._db, [request.operation_id for request in gone])
        except SQLAlchemyError as exc:
            if _is_transient(exc):
                self._back_off(exc)
            else:
                log.exception("could not settle pending operations")
            return 0
        log.info("settled %d operations answered 202 whose jobs Redis no longer holds", len(gone))
        return len(gone)

    # --- leases ---------------------------------------------------------------

    def rebalance(self) -> None:
        """Heartbeat, give up shards above the fair share, lease free ones below it."""
        self._rebalanced_at = time.monotonic()
        live = self._retry_redis(partial(live_members, self.connection, self.name, time.time()))
        self._sweep(live)
        if self._db_retry_delay and self._db is None and time.monotonic() < self._db_retry_at:
            return
        plan = rebalance_plan(set(self.owned), len(live), self.settings.shard_count)
        changed = False
        try:
            if self._db is None:
                self._db = self.engine.connect()
            for shard in plan.release:
                lease_release(self._db, self.settings.lease_namespace, shard)
                del self.owned[shard]
                changed = True
            wanted = plan.wanted
            for shard in candidate_order(self.name, self.settings.shard_count):
                if wanted <= 0:
                    break
                if (
                    shard in self.owned
                    or shard not in self.candidates
                    or not lease_try(self._db, self.settings.lease_namespace, shard)
                ):
                    continue
                self.owned[shard] = self._take_over(shard)
                wanted -= 1
                changed = True
            self._db_retry_delay = 0.0
        except SQLAlchemyError as exc:
            if not _is_transient(exc):
                raise
            self._db_retry_delay = min(max(self._db_retry_delay * 2, 0.2), MAX_BACKOFF)
            self._db_retry_at = time.monotonic() + self._db_retry_delay
            self._leases_drop(f"PostgreSQL unavailable ({exc.__class__.__name__}), retrying in {self._db_retry_delay}s")
            return
        if changed:
            self._publish_queues()
            log.info("worker %s now serves shards %s", self.name, sorted(self.owned))

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

    def _take_over(self, shard: int) -> ShardQueue:
        queue = ShardQueue(shard, Queue(queue_name(shard), connection=self.connection, serializer=JSONSerializer))
        moved = self._retry_redis(partial(processing_requeue, self.connection, queue))
        if moved:
            log.warning("shard %02d: requeued %d operations its previous worker had claimed", shard, moved)
        return queue

    def _leases_drop(self, why: str, level: int = logging.WARNING) -> None:
        """Forget every lease: closing the connection releases its locks (if it still exists)."""
        self._rebalanced_at = 0.0  # lease again at once (rebalance() backs off while PostgreSQL is down)
        if self._db is not None:
            # invalidate, not close: close would hand the session, locks and all, back to the pool.
            with contextlib.suppress(SQLAlchemyError):
                self._db.invalidate()
                self._db.close()
            self._db = None
        if self.owned:
            log.log(level, "worker %s gives up shards %s: %s", self.name, sorted(self.owned), why)
            self.owned.clear()
            with contextlib.suppress(redis.RedisError):
                self._publish_queues()

    def _publish_queues(self) -> None:
        """Show the leased shards' queues as this worker's queues, as RQ and the dashboard read them."""
        if self.birth_date is None:  # not registered yet: register_birth() will publish them
            self.queues = [shard.queue for shard in self.shard_queues]
            self._ordered_queues = list(self.queues)
            return
        with self.connection.pipeline() as pipe:
            worker_registration.unregister(self, pipeline=pipe)
            self.queues = [shard.queue for shard in self.shard_queues]
            self._ordered_queues = list(self.queues)
            pipe.hset(self.key, "queues", ",".join(self.queue_names()))
            worker_registration.register(self, pipeline=pipe)
            pipe.execute()

    def _retry_redis(self, attempt: Callable[[], T]) -> T:
        return self._retry(attempt, redis_condition, "Redis")

    def _retry(self, attempt: Callable[[], T], transient: Callable[[Exception], bool], service: str) -> T:
        delay = 0.2
        while True:
            try:
                return attempt()
            except Exception as exc:
                if not transient(exc):
                    raise
                if self._stop_requested:
                    raise StopRequested() from exc
                log.warning("%s unavailable (%s); retrying in %.1fs", service, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _clear(self, claim: Claim) -> None:
        with self.connection.pipeline(transaction=True) as pipe:
            processing_clear(pipe, claim.shards, worker=self.name)
            pipe.execute()
