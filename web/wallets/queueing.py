"""The web side of the queue: enqueue an operation as an RQ job and wait for its reply.

One round trip does both: the job hash, the queue push and the shard's bell,
then a BLPOP on the operation's reply key, pipelined on one connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import cast
from uuid import UUID

import redis
from redis.client import Pipeline
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from shared import keys
from shared.config import Settings
from shared.errors import OutcomeUnknown, ServiceUnavailable
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


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An Idempotency-Key's record: the Redis key and the value to store if the key is new."""

    key: str
    value: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Sent:
    result: OperationResult | None
    """The worker's answer, or None when none came within the wait."""
    earlier: str | None = None
    """The stored record when the Idempotency-Key was already taken (nothing was enqueued)."""


# Claims the key record if it is new and runs the enqueue commands, atomically: a key is
# never recorded without its operation being queued, nor queued twice.
_CLAIM_AND_ENQUEUE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return redis.call('GET', KEYS[1])
end
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return false
"""


def _stage_enqueue(pipe: Pipeline, connection: redis.Redis, settings: Settings, request: OperationRequest) -> None:
    """Stage on ``pipe`` the Redis commands that put ``request`` on its shard queue as an RQ job
    (id = operation id), and ring the shard's bell.

    Queue.enqueue_job would force MULTI on them (it checks dependencies, which these jobs
    never have) and register the queue (done once, in _queue); this is what it does
    without those steps. tests/worker/test_rq_contract.py pins the result.
    """
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
    _queue(connection, shard)._enqueue_job(job, pipeline=pipe)
    pipe.rpush(keys.bell_key(shard), 1)


def operation_send(
    *,
    connection: redis.Redis,
    settings: Settings,
    request: OperationRequest,
    wait: float,
    record: KeyRecord | None = None,
) -> Sent:
    """Enqueue ``request`` and wait up to ``wait`` seconds for its result.

    One round trip without a ``record``: the enqueue commands, then a BLPOP on the reply
    key, pipelined (not a MULTI: a BLPOP inside one returns at once; Redis runs one
    connection's commands in order, so the job hash exists before its id is queued).
    With an Idempotency-Key ``record``: one round trip records the key and enqueues,
    atomically, unless the key was taken; a second one waits for the reply.

    Redis failing before anything was sent (no connection) is ``ServiceUnavailable``: nothing
    was queued. Failing after is ``OutcomeUnknown``: the operation may be queued, or even
    applied, so it must not be answered as failed.
    """
    reply_key = keys.reply_key(request.operation_id)
    _ensure_connected(connection)
    try:
        with connection.pipeline(transaction=False) as pipe:
            if record is None:
                _stage_enqueue(pipe, connection, settings, request)
            else:
                # The enqueue runs inside the script, after the key is claimed: stage it
                # on a scratch pipeline and pass its commands to the script as arguments.
                with connection.pipeline(transaction=False) as staged:
                    _stage_enqueue(staged, connection, settings, request)
                    commands = [args for args, _ in staged.command_stack]
                flat = [part for command in commands for part in (len(command), *command)]
                pipe.eval(_CLAIM_AND_ENQUEUE, 1, record.key, record.value, record.ttl, *flat)
            if wait > 0 and record is None:
                pipe.blpop([reply_key], timeout=wait)
            replies = pipe.execute()
            if record is not None:
                if replies[-1]:
                    return Sent(result=None, earlier=replies[-1].decode())
                if wait > 0:
                    replies = [connection.blpop([reply_key], timeout=wait)]
    except redis.RedisError as exc:
        raise OutcomeUnknown(f"Redis failed after the enqueue of {request.operation_id} was sent: {exc}") from exc
    reply = cast("list[bytes] | None", replies[-1]) if wait > 0 else None
    return Sent(result=None if reply is None else OperationResult.from_bytes(reply[1]))


def _ensure_connected(connection: redis.Redis) -> None:
    """Make sure the pool holds a live connection before anything is sent, or raise
    ``ServiceUnavailable``: a failure here is certain to have queued nothing.

    Taking a connection from the pool connects it if needed and checks that a kept one was not
    closed by a Redis restart; giving it back at once leaves it first in line for the pipeline.
    It costs no round trip.
    """
    pool = connection.connection_pool
    try:
        pool.release(pool.get_connection())
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc


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
