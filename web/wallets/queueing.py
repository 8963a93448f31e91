"""The web side of the queue: enqueue an operation as an RQ job and wait for its reply.

One round trip does both: the job hash, the queue push and the shard's bell,
then a BLPOP on the operation's reply key, pipelined on one connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from shared import keys
from shared.config import Settings
from shared.errors import OutcomeUnknown, ServiceUnavailable
from shared.messages import OperationRequest, OperationResult
from shared.rq_contract import Command, enqueue_commands
from shared.sharding import shard_for


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An Idempotency-Key's record: the Redis key and the value to store if the key is new."""

    key: str
    value: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one enqueue: the worker's reply, or the record that already held the key."""

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


def _enqueue_commands(connection: redis.Redis, settings: Settings, request: OperationRequest) -> list[Command]:
    """The commands that queue ``request`` as an RQ job on its shard (``shared.rq_contract``)
    and ring the shard's bell, so an idle worker wakes."""
    shard = shard_for(request.wallet_id, settings.shard_count)
    commands = enqueue_commands(
        connection=connection,
        request=request,
        shard=shard,
        result_ttl=settings.result_ttl,
        failure_ttl=settings.failure_ttl,
    )
    return [*commands, ("RPUSH", keys.bell_key(shard), 1)]


def operation_send(
    *,
    connection: redis.Redis,
    settings: Settings,
    request: OperationRequest,
    wait: float,
    record: KeyRecord | None = None,
) -> Delivery:
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
        commands = _enqueue_commands(connection, settings, request)
        with connection.pipeline(transaction=False) as pipe:
            if record is None:
                for command in commands:
                    pipe.execute_command(*command)  # type: ignore[no-untyped-call]
            else:
                # The enqueue runs inside the script, after the key is claimed.
                flat = [part for command in commands for part in (len(command), *command)]
                pipe.eval(_CLAIM_AND_ENQUEUE, 1, record.key, record.value, record.ttl, *flat)
            if wait > 0 and record is None:
                pipe.blpop([reply_key], timeout=wait)
            replies = pipe.execute()
            if record is not None:
                if replies[-1]:
                    return Delivery(result=None, earlier=replies[-1].decode())
                if wait > 0:
                    replies = [connection.blpop([reply_key], timeout=wait)]
    except redis.RedisError as exc:
        raise OutcomeUnknown(f"Redis failed after the enqueue of {request.operation_id} was sent: {exc}") from exc
    reply = cast("list[bytes] | None", replies[-1]) if wait > 0 else None
    return Delivery(result=None if reply is None else OperationResult.from_bytes(reply[1]))


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
