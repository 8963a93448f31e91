"""The web side of the queue: enqueue an operation as an RQ job and wait for its reply.

One round trip does both: the job hash, the queue push and the shard's bell,
then a BLPOP on the operation's reply key, pipelined on one connection.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import cast
from uuid import UUID

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from shared import keys
from shared.config import Settings
from shared.errors import ServiceUnavailable
from shared.messages import OPERATION_JOB, OperationRequest, OperationResult
from shared.sharding import queue_name, shard_for

JOB_TIMEOUT = 60
"""RQ's per-job timeout, in seconds; an operation is applied in milliseconds."""


@lru_cache(maxsize=256)
def _queue(connection: redis.Redis, shard: int) -> Queue:
    """The shard's RQ queue, registered in RQ's queue set (where dashboards find it) once per process."""
    queue = Queue(queue_name(shard), connection=connection, serializer=JSONSerializer)
    connection.sadd(queue.redis_queues_keys, queue.key)
    return queue


def operation_send(
    *, connection: redis.Redis, settings: Settings, request: OperationRequest, wait: float
) -> OperationResult | None:
    """Enqueue ``request`` as an RQ job (id = operation id) and wait up to ``wait`` seconds for
    its result, in one round trip; None when no result came in time (or ``wait`` is 0)."""
    shard = shard_for(request.wallet_id, settings.shard_count)
    job = Job.create(
        OPERATION_JOB,
        args=[request.to_wire()],
        id=str(request.operation_id),
        connection=connection,
        serializer=JSONSerializer,
        timeout=JOB_TIMEOUT,
        result_ttl=settings.result_ttl,
        failure_ttl=settings.failure_ttl,
        description=f"{request.operation_type.value} {request.amount} to wallet {request.wallet_id}",
    )
    try:
        # Not a MULTI: a BLPOP inside one returns at once. Redis runs one connection's commands
        # in order, so the job hash exists before its id is on the queue. Queue.enqueue_job
        # would force MULTI (it checks dependencies, which these jobs never have) and register
        # the queue (done once, in _queue); tests/worker/test_rq_contract.py pins the result.
        queue = _queue(connection, shard)
        with connection.pipeline(transaction=False) as pipe:
            queue._enqueue_job(job, pipeline=pipe)
            pipe.rpush(keys.bell_key(shard), 1)
            if wait > 0:
                pipe.blpop([keys.reply_key(request.operation_id)], timeout=wait)
            replies = pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    reply = cast("list[bytes] | None", replies[-1]) if wait > 0 else None
    return None if reply is None else OperationResult.from_bytes(reply[1])


class JobState(StrEnum):
    PENDING = "pending"
    FAILED = "failed"
    UNKNOWN = "unknown"


def job_state(*, connection: redis.Redis, operation_id: UUID) -> JobState:
    """What RQ knows of this operation's job: still to run, failed (poison), or nothing."""
    try:
        job = Job.fetch(str(operation_id), connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return JobState.UNKNOWN
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    status = job.get_status(refresh=False)
    if status == JobStatus.FAILED:
        return JobState.FAILED
    if status in {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}:
        return JobState.PENDING
    return JobState.UNKNOWN
