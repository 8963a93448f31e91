"""The web side of the queue: enqueue an operation as an RQ job, wait for its reply.

One round trip enqueues (job hash, queue push, shard bell in one MULTI); one
BLPOP waits for the worker's reply on the operation's reply key.
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
    # Cached: a Queue asks Redis for its server version once, then remembers it.
    return Queue(queue_name(shard), connection=connection, serializer=JSONSerializer)


def operation_enqueue(*, connection: redis.Redis, settings: Settings, request: OperationRequest) -> None:
    """Put ``request`` on its wallet's shard queue as an RQ job whose id is the operation id."""
    shard = shard_for(request.wallet_id, settings.shard_count)
    queue = _queue(connection, shard)
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
        with connection.pipeline(transaction=True) as pipe:
            queue.enqueue_job(job, pipeline=pipe)
            pipe.rpush(keys.bell_key(shard), 1)
            pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc


def reply_wait(*, connection: redis.Redis, request: OperationRequest, timeout: float) -> OperationResult | None:
    """The worker's result for ``request``, or None if it did not come within ``timeout`` seconds."""
    if timeout <= 0:
        return None
    try:
        reply = cast("list[bytes] | None", connection.blpop([keys.reply_key(request.operation_id)], timeout=timeout))
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    if reply is None:
        return None
    return OperationResult.from_bytes(reply[1])


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
