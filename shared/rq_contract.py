"""Everything this service does with RQ's internals, in one place.

Operations travel as RQ jobs so that rq-dashboard and ``rq info`` show the queues, the jobs
and the workers, but neither side runs RQ's own loops: the web writes a job's Redis records
itself (so an enqueue and the wait for its reply share one round trip, and a keyed enqueue
runs inside a Lua script), and the shard worker claims, applies and finishes whole batches.
What that takes of RQ is here and nowhere else:

- ``enqueue_commands``: the Redis commands that make a queued job, as RQ's own enqueue writes it;
- ``jobs_fetch`` and ``jobs_finish``: a batch's jobs read back, then marked finished or failed
  with the same records a stock worker leaves (status, result stream, registries, TTLs);
- ``shared.rq_presence.WorkerPresence``: the worker's record that dashboards list (birth,
  queues, state, heartbeat, counters, death) and RQ's periodic registry cleanup.

``tests/worker/test_rq_contract.py`` pins each of these against the installed rq: an rq
upgrade that changes one fails there first, and only these two modules change with it.
"""

from __future__ import annotations

import contextlib
import zlib
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any
from uuid import UUID

import redis
from redis.client import Pipeline
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.suspension import is_suspended
from rq.utils import current_timestamp, now, utcformat, utcparse

from shared import keys
from shared.errors import ServiceUnavailable
from shared.messages import OPERATION_JOB, OperationRequest, OperationResult
from shared.sharding import queue_name

JOB_TIMEOUT = 60
"""RQ's per-job timeout, in seconds; an operation is applied in milliseconds."""

Command = tuple[Any, ...]


def enqueue_commands(*, request: OperationRequest, shard: int, result_ttl: int, failure_ttl: int) -> list[Command]:
    """The Redis commands that put ``request`` on ``shard``'s queue as a queued RQ job whose id is the
    operation id: its job hash, the queue in RQ's queue set (where dashboards find it, again
    after a Redis restart) and the id at the tail of the queue.

    What ``Queue.enqueue_job`` writes, without its dependency checks (these jobs have none) and
    its forced MULTI, as plain commands the caller runs on a pipeline or inside a script. The
    job hash has the fields and values RQ's ``Job.to_dict`` gives such a job, in its order
    (``_job_template``), filled in without building a ``Job``.
    """
    template = _job_template(result_ttl, failure_ttl)
    # The text of rq.utils.utcformat (the contract test compares them), without strftime's cost.
    stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    job_id = str(request.operation_id)
    variable = {
        "created_at": stamp,
        "enqueued_at": stamp,
        "data": zlib.compress(JSONSerializer.dumps((OPERATION_JOB, None, [request.to_wire()], {}))),
        "origin": queue_name(shard),
        "description": f"{request.operation_type.value} {request.amount} to wallet {request.wallet_id}",
    }
    fields = [part for field, value in template for part in (field, variable.get(field, value))]
    queue_key = keys.queue_key(shard)
    return [
        ("HSET", keys.job_key(job_id), *fields),
        ("SADD", Queue.redis_queues_keys, queue_key),
        ("RPUSH", queue_key, job_id),
    ]


@lru_cache
def _job_template(result_ttl: int, failure_ttl: int) -> tuple[tuple[str, Any], ...]:
    """The job hash RQ writes for a queued operation, as (field, value) pairs in its order; the
    values that differ per operation are those ``enqueue_commands`` fills in."""
    job = Job.create(
        OPERATION_JOB,
        args=[{}],
        id="template",
        connection=redis.Redis(),  # never connects: only to_dict is called
        serializer=JSONSerializer,
        timeout=JOB_TIMEOUT,
        result_ttl=result_ttl,
        failure_ttl=failure_ttl,
        description="",
        origin=queue_name(0),
        status=JobStatus.QUEUED,
    )
    job.enqueued_at = now()
    return tuple(
        (field, value.value if isinstance(value, JobStatus) else value) for field, value in job.to_dict().items()
    )


def queue_lags(connection: redis.Redis, shard_count: int) -> list[float]:
    """How long, in seconds, the oldest operation still queued on each shard has waited (0 for
    an empty queue), from its job's ``enqueued_at``; two round trips."""
    with connection.pipeline(transaction=False) as pipe:
        for shard in range(shard_count):
            pipe.lindex(keys.queue_key(shard), 0)
        heads: list[bytes | None] = pipe.execute()
    queued = [head.decode() for head in heads if head is not None]
    stamps: dict[str, bytes | None] = {}
    if queued:
        with connection.pipeline(transaction=False) as pipe:
            for job_id in queued:
                pipe.hget(keys.job_key(job_id), "enqueued_at")
            stamps = dict(zip(queued, pipe.execute(), strict=True))
    current = now()
    lags = []
    for head in heads:
        stamp = None if head is None else stamps.get(head.decode())
        # Claimed (or expired) between the two reads: the next operation waited less.
        lags.append(0.0 if stamp is None else max(0.0, (current - utcparse(stamp.decode())).total_seconds()))
    return lags


def queues_suspended(connection: redis.Redis) -> bool:
    """Whether ``rq suspend`` holds the shard workers (they apply nothing until ``rq resume``)."""
    return bool(is_suspended(connection))


def failed_count(connection: redis.Redis, shard_count: int) -> int:
    """Jobs in the shard queues' failed registries (poison messages an operator must look at)."""
    with connection.pipeline(transaction=False) as pipe:
        for shard in range(shard_count):
            pipe.zcard(FailedJobRegistry.key_template.format(queue_name(shard)))
        return sum(int(n) for n in pipe.execute())


def queues_register(connection: redis.Redis, shard_count: int) -> None:
    """Put every shard queue in RQ's queue set, so dashboards and ``rq info`` list each one
    before its first job (an enqueue adds its queue too, again after a Redis restart)."""
    connection.sadd(Queue.redis_queues_keys, *(keys.queue_key(shard) for shard in range(shard_count)))


def finished_trim(connection: redis.Redis, queue_names: Sequence[str]) -> None:
    """Drop from the finished registries of ``queue_names`` the jobs whose records expired
    (``RESULT_TTL`` after they finished), so a dashboard's count is what it can list: RQ's
    own cleanup does the same, once a minute."""
    if not queue_names:
        return
    with connection.pipeline(transaction=False) as pipe:
        for name in queue_names:
            pipe.zremrangebyscore(FinishedJobRegistry.key_template.format(name), 0, current_timestamp())
        pipe.execute()


@dataclass(frozen=True, slots=True)
class StoredJob:
    """A claimed job as its hash holds it, read without RQ's ``Job`` (whose restore parses
    every field of every job): what a batch needs, and RQ's own ``Job`` to record a failure."""

    id: str
    fields: dict[bytes, bytes]
    connection: redis.Redis

    @property
    def key(self) -> str:
        return keys.job_key(self.id)

    @property
    def origin(self) -> str:
        return self.fields.get(b"origin", b"").decode()

    @property
    def result_ttl(self) -> int | None:
        raw = self.fields.get(b"result_ttl")
        return int(raw) if raw else None

    def rq_job(self) -> Job:
        job = Job(self.id, connection=self.connection, serializer=JSONSerializer)
        job.restore(self.fields)
        return job


def jobs_fetch(pipeline: Pipeline, connection: redis.Redis, job_ids: Sequence[str]) -> Any:
    """Queue on ``pipeline`` the reads of ``job_ids``; call the returned function with their
    replies for the jobs that still exist (in order)."""
    for job_id in job_ids:
        pipeline.hgetall(keys.job_key(job_id))

    def restore(replies: Sequence[dict[bytes, bytes]]) -> list[StoredJob]:
        return [
            StoredJob(job_id, fields, connection) for job_id, fields in zip(job_ids, replies, strict=True) if fields
        ]

    return restore


def job_call(job: StoredJob) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The function name and arguments a job carries (raises on undecodable data), decoded as
    ``Job.restore`` decodes them: its data zlib-compressed or not, then the serializer's."""
    data = job.fields[b"data"]
    with contextlib.suppress(zlib.error):
        data = zlib.decompress(data)
    func_name, _instance, args, kwargs = JSONSerializer.loads(data)
    return str(func_name), tuple(args), dict(kwargs)


@dataclass(frozen=True, slots=True)
class Finished:
    job: StoredJob
    result: OperationResult


@dataclass(frozen=True, slots=True)
class Failed:
    job: StoredJob
    reason: str


def jobs_finish(
    pipeline: Pipeline,
    *,
    worker_name: str,
    started_at: datetime,
    finished: Sequence[Finished],
    failed: Sequence[Failed],
    default_result_ttl: int,
) -> None:
    """Queue on ``pipeline`` what marks every job of a batch done, as a stock worker would for
    each (status, result stream, finished or failed registry, TTLs).

    A finished job leaves exactly what ``Job._handle_success`` and ``Job.cleanup`` leave, with
    fewer commands and without RQ's ``Job``: its hash gets only the fields that changed since
    the enqueue (status and times; RQ writes the whole hash again), its result goes to its
    result stream as ``Result.save`` writes it, the finished registries get one ZADD per
    batch, and the expiry of the job's dependency keys, which these jobs never have, is not set.
    ``tests/worker/test_rq_contract.py`` compares the two."""
    ended_at = now()
    status: dict[str | bytes, str] = {
        "status": JobStatus.FINISHED.value,
        "started_at": utcformat(started_at),
        "ended_at": utcformat(ended_at),
    }
    registered: dict[str, dict[str, int | str]] = {}
    for item in finished:
        job = item.job
        result_ttl = default_result_ttl if job.result_ttl is None else job.result_ttl
        pipeline.hset(job.key, mapping=status)  # type: ignore[arg-type]
        results_key = Result.get_key(job.id)
        wire = JSONSerializer.dumps(item.result.to_wire())
        entry = {"type": Result.Type.SUCCESSFUL.value, "worker_name": worker_name, "return_value": b64encode(wire)}
        pipeline.xadd(results_key, entry, maxlen=10)  # type: ignore[arg-type]
        if result_ttl == -1:
            pipeline.persist(results_key)
        else:
            pipeline.expire(results_key, result_ttl)
        if result_ttl != 0:
            score = "+inf" if result_ttl == -1 else result_ttl if result_ttl < 0 else current_timestamp() + result_ttl
            registered.setdefault(FinishedJobRegistry.key_template.format(job.origin), {})[job.id] = score
        if result_ttl == 0:
            job.rq_job().delete(pipeline=pipeline, remove_from_queue=False)
        elif result_ttl > 0:
            pipeline.expire(job.key, result_ttl)
    for registry_key, members in registered.items():
        pipeline.zadd(registry_key, members)
    for poison in failed:
        failing = poison.job.rq_job()
        failing.started_at, failing.ended_at = started_at, ended_at
        failing._status = JobStatus.FAILED
        failing.set_status(JobStatus.FAILED, pipeline=pipeline)
        failing._handle_failure(poison.reason, pipeline=pipeline, worker_name=worker_name)


class JobState(StrEnum):
    PENDING = "pending"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class JobInfo:
    state: JobState
    wallet_id: UUID | None
    """The wallet the job's operation is for, when the job exists and its message names one."""


def _job_wallet(job: Job) -> UUID | None:
    try:
        return OperationRequest.from_wire(job.args[0]).wallet_id
    except Exception:  # a poison job's arguments may be anything
        return None


def job_state(*, connection: redis.Redis, operation_id: UUID) -> JobInfo:
    """What RQ knows of an operation's job: still to run, failed (poison), or nothing (finished
    and expired, or never queued: the ledger and the pending records answer then)."""
    try:
        job = Job.fetch(str(operation_id), connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return JobInfo(JobState.UNKNOWN, None)
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    status = job.get_status(refresh=False)
    wallet_id = _job_wallet(job)
    if status == JobStatus.FAILED:
        return JobInfo(JobState.FAILED, wallet_id)
    if status in {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}:
        return JobInfo(JobState.PENDING, wallet_id)
    return JobInfo(JobState.UNKNOWN, wallet_id)
