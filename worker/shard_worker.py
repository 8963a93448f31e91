"""``ShardWorker``: an RQ ``SimpleWorker`` that applies its shards' jobs in batches.

RQ's own ``work()`` loop runs unchanged (birth and death registration,
heartbeats, maintenance, suspension, signals), so the worker shows in
rq-dashboard like any other. Two hooks change: ``dequeue_job_and_maintain_ttl``
claims a whole batch from one shard (``worker.claim``) and ``execute_job``
applies it in one PostgreSQL transaction (``worker.apply``), then finishes
every job and replies in one Redis pipeline (``worker.bookkeeping``).

Failure handling sits here, next to the loop, not in the business logic:
PostgreSQL or Redis outages are retried with backoff while the batch stays
claimed; an operation that can never apply goes to RQ's failed registry alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker import WorkerStatus
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shared.config import Settings
from shared.errors import MalformedMessage
from shared.messages import OPERATION_JOB, OperationRequest, OperationResult
from shared.sharding import queue_name
from worker.apply import operations_apply
from worker.bookkeeping import Failed, Finished, batch_finish
from worker.claim import Claim, ShardQueue, batch_claim, bells_wait, processing_clear, processing_requeue

log = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_EVERY = 1.0
"""Seconds between worker heartbeats while busy (RQ's worker TTL is minutes)."""

REGISTRY_CLEANUP_EVERY = 60
"""Seconds between RQ's registry cleanups (RQ's default, 10 minutes, lets the finished
registry grow by 10 minutes of operations before expired entries are dropped)."""

SUSPENSION_CHECK_EVERY = 1.0
"""Seconds between checks of RQ's suspension flag (``rq suspend``)."""

IDLE_WAIT = 5
"""Longest BLPOP on the shard bells, in seconds, so an idle worker still heartbeats and stops promptly."""

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


def _is_transient(exc: SQLAlchemyError) -> bool:
    """A lost or refused connection, as opposed to an operation PostgreSQL refuses."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or type(exc.orig).__name__ in {"OperationalError", "InterfaceError"}
    )


class ShardWorker(SimpleWorker):
    def __init__(
        self,
        shards: Sequence[int],
        *,
        engine: Engine,
        settings: Settings,
        connection: redis.Redis,
        name: str | None = None,
    ) -> None:
        queues = [Queue(queue_name(s), connection=connection, serializer=JSONSerializer) for s in shards]
        super().__init__(
            queues,
            name=name,
            connection=connection,
            serializer=JSONSerializer,
            default_result_ttl=settings.result_ttl,
            maintenance_interval=REGISTRY_CLEANUP_EVERY,
        )
        self.engine = engine
        self.settings = settings
        self.shard_queues = [ShardQueue(shard, queue) for shard, queue in zip(shards, queues, strict=True)]
        self._claim: Claim | None = None
        self._jobs: list[Job] = []
        self._next_shard = 0
        self._suspension_checked: datetime | None = None

    # --- RQ hooks -------------------------------------------------------

    def check_for_suspension(self, burst: bool) -> None:
        """RQ asks Redis whether ``rq suspend`` was run before every job; once a second is enough."""
        if self._suspension_checked and (now() - self._suspension_checked).total_seconds() < SUSPENSION_CHECK_EVERY:
            return
        super().check_for_suspension(burst)
        self._suspension_checked = now()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        for shard in self.shard_queues:
            moved = self._retry_redis(partial(processing_requeue, self.connection, shard))
            if moved:
                log.warning("shard %02d: requeued %d operations claimed by a previous worker", shard.shard, moved)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, in one round trip, and at most once a second unless given a pipeline."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        if timeout is None and self.last_heartbeat and (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY:
            return
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Claim the next batch; hand RQ its first job. ``timeout=None`` (burst) never blocks."""
        while True:
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()  # type: ignore[no-untyped-call]
            claim = self._retry_redis(
                lambda: batch_claim(
                    self.connection, self.shard_queues, batch_size=self.settings.batch_size, start=self._next_shard
                )
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
            self._retry_redis(lambda: bells_wait(self.connection, self.shard_queues, min(timeout, IDLE_WAIT)))

    def _idle(self) -> None:
        self.procline(f"Listening on {len(self.shard_queues)} shards")  # type: ignore[no-untyped-call]
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
        outcomes = self._apply([request for _, request in requests])
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
                processing_clear(pipe, claim.shards)
                self.heartbeat(pipeline=pipe)
                pipe.execute()

        self._retry_redis(finish)
        log.debug("batch of %d from %d shards done", len(jobs), len(claim.parts))

    # --- applying, with the failure policy --------------------------------

    def _apply(self, requests: list[OperationRequest]) -> list[OperationResult | str]:
        """One result per request, or the reason it can never apply."""
        if not requests:
            return []
        try:
            return list(self._retry_db(lambda: self._transaction(requests)))
        except Exception as exc:  # anything but an outage (retried above) is this batch's own fault
            if len(requests) == 1:
                log.exception("operation %s cannot be applied", requests[0].operation_id)
                return [f"cannot be applied: {exc.__class__.__name__}: {exc}"]
        # One bad operation must not hold back the others: isolate it.
        return [outcome for request in requests for outcome in self._apply([request])]

    def _transaction(self, requests: list[OperationRequest]) -> list[OperationResult]:
        with self.engine.begin() as conn:
            return operations_apply(conn, requests)

    def _retry_db(self, attempt: Callable[[], T]) -> T:
        return self._retry(attempt, lambda exc: isinstance(exc, SQLAlchemyError) and _is_transient(exc), "PostgreSQL")

    def _retry_redis(self, attempt: Callable[[], T]) -> T:
        return self._retry(attempt, lambda exc: isinstance(exc, redis.ConnectionError | redis.TimeoutError), "Redis")

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
            processing_clear(pipe, claim.shards)
            pipe.execute()
