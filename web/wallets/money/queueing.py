"""The web side of the queue: enqueue an operation as an RQ job and wait for its reply.

One round trip enqueues (the job hash, the queue push and the shard's bell, with the rate
limits and the Idempotency-Key's record in a script); the answer comes to the process's inbox
(``web.wallets.money.inbox``), which costs the request no round trip of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import redis
from redis.connection import Connection
from redis.exceptions import NoScriptError

from shared import keys
from shared.config import Settings
from shared.errors import OutcomeUnknown, RateLimited, ServiceUnavailable
from shared.messages import OperationRequest, OperationResult
from shared.rq_contract import Command, enqueue_commands
from shared.sharding import shard_for
from web.wallets.auth.rate_limits import LIMIT_LUA, Counted, limit_args, refusal
from web.wallets.money.inbox import READY_WAIT, inbox_for


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
    refused: RateLimited | None = None
    """Over a rate limit: nothing was enqueued."""


# Runs the commands ARGV[first .. last] holds, each written as its number of parts then its parts.
_RUN_LUA = """
local function run(first, last)
  local i = first
  while i <= last do
    local n = tonumber(ARGV[i])
    redis.call(unpack(ARGV, i + 1, i + n))
    i = i + n + 1
  end
end
"""

# A replay (the Idempotency-Key already recorded) returns the record and counts against
# nothing. Otherwise counts the request against its rate limits (``rate_limits.LIMIT_LUA``),
# then records the Idempotency-Key if there is one, then runs the enqueue commands, atomically:
# a request over a limit queues nothing, a key is never recorded without its operation being
# queued, nor queued twice. A refusal is kept (the refused key): if the web could not read this
# answer and gave a 202, settling finds it (``worker.pending``) and never applies the operation.
# KEYS: the record's key (or the refused key), the limits' counter prefixes. ARGV: the number
# of limits, the record's value ('' for none) and TTL, the refused key and its TTL, the limits'
# amounts, windows and costs, the commands.
_LIMIT_CLAIM_AND_ENQUEUE = (
    """local NLIMITS, KOFF, AOFF = tonumber(ARGV[1]), 1, 5
if ARGV[2] ~= '' then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then return {'taken', earlier} end
end
"""
    + LIMIT_LUA
    + """
if refused then
  redis.call('SET', ARGV[4], refused[1] .. ':' .. refused[2], 'EX', ARGV[5])
  return {'refused', refused[1], refused[2]}
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
"""
    + _RUN_LUA
    + """
run(6 + 3 * NLIMITS, #ARGV)
return false
"""
)


_LIMIT_CLAIM_AND_ENQUEUE_SHA = hashlib.sha1(_LIMIT_CLAIM_AND_ENQUEUE.encode(), usedforsecurity=False).hexdigest()
"""What the script is sent as (EVALSHA): its text, about 2 KB, only when Redis lacks it."""


def _enqueue_commands(settings: Settings, request: OperationRequest) -> list[Command]:
    """The commands that queue ``request`` as an RQ job on its shard (``shared.rq_contract``)
    and ring the shard's bell, so an idle worker wakes."""
    shard = shard_for(request.wallet_id, settings.shard_count)
    return [*_job_commands(settings, request, shard), ("RPUSH", keys.bell_key(shard), 1)]


def _job_commands(settings: Settings, request: OperationRequest, shard: int) -> list[Command]:
    """The commands that queue ``request`` as an RQ job on ``shard``, kept as the settings say."""
    return enqueue_commands(
        request=request, shard=shard, result_ttl=settings.result_ttl, failure_ttl=settings.failure_ttl
    )


def operation_send(
    *,
    connection: redis.Redis,
    settings: Settings,
    request: OperationRequest,
    wait: float,
    record: KeyRecord | None = None,
    limits: Sequence[Counted] = (),
) -> Delivery:
    """Enqueue ``request`` and wait up to ``wait`` seconds for its result.

    One round trip: the enqueue, with its rate ``limits`` and its Idempotency-Key ``record``
    inside one script when it has either (counting, recording the key and enqueueing,
    atomically, unless the key was taken). The request names this process's inbox
    (``reply_to``), where its answer is waited for; it is sent once the inbox listens (else
    ``ServiceUnavailable``: nothing was queued).

    The commands go out on one pooled connection, written at once and their replies read in
    order, with no retry: a command that may have run is never sent twice. Redis failing
    before anything was sent (no connection) is ``ServiceUnavailable``: nothing was queued.
    Failing after is ``OutcomeUnknown``: the operation may be queued, or even applied, so it
    must not be answered as failed.
    """
    inbox = inbox_for(connection, keep=settings.reply_ttl)
    if request.reply_to is None:
        request = replace(request, reply_to=inbox.name)
    if wait > 0 and not inbox.ready(READY_WAIT):
        raise ServiceUnavailable("Redis is unavailable: the inbox cannot listen")
    with _sending(connection, f"the enqueue of {request.operation_id}") as conn:
        commands = _enqueue_commands(settings, request)
        if record is not None or limits:
            flat = _flat(commands)
            refused_key = keys.refused_key(request.operation_id)
            script = (
                1 + len(limits),
                record.key if record else refused_key,
                *(c.key for c in limits),
                len(limits),
                record.value if record else "",
                record.ttl if record else 0,
                refused_key,
                keys.REFUSED_TTL,
                *limit_args(limits),
                *flat,
            )
            try:
                [answer] = _exchange(conn, [("EVALSHA", _LIMIT_CLAIM_AND_ENQUEUE_SHA, *script)])
            except NoScriptError:
                # Redis lost its script cache (a restart, SCRIPT FLUSH): nothing ran. Send it
                # again with the script's text, which caches it.
                [answer] = _exchange(conn, [("EVAL", _LIMIT_CLAIM_AND_ENQUEUE, *script)])
            if answer:
                if answer[0] == b"taken":
                    return Delivery(result=None, earlier=answer[1].decode())
                return Delivery(result=None, refused=refusal(limits, int(answer[1]), int(answer[2])))
        else:
            _exchange(conn, commands)
    return Delivery(result=inbox.wait(request.operation_id, wait))


@contextlib.contextmanager
def _sending(connection: redis.Redis, what: str) -> Iterator[Connection]:
    """A pooled connection to send ``what`` on, with no retry: a command that may have run is
    never sent twice. None to take (no connection) is ``ServiceUnavailable``: nothing was sent.
    A Redis failure while it is used is ``OutcomeUnknown``: ``what`` may have been sent. After
    any failure the connection is dropped (replies may be left unread on it)."""
    pool = connection.connection_pool
    try:
        # Taking a connection connects it if needed and checks that a kept one was not closed
        # by a Redis restart, without a round trip.
        conn = pool.get_connection()
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    try:
        yield conn
    except BaseException as exc:
        conn.disconnect()  # type: ignore[no-untyped-call]
        if isinstance(exc, redis.RedisError):
            raise OutcomeUnknown(f"Redis failed after {what} was sent: {exc}") from exc
        raise
    finally:
        pool.release(conn)


# Queues one shard's part of a bulk request, in the request's order: each operation's
# Idempotency-Key record if it has one, then its enqueue; an operation whose key is already
# recorded is not queued, and that record is answered for it instead. Then rings the shard's
# bell once. (The request's rate limits were counted before, for all of it: ``requests_send``.)
# KEYS: the shard's bell. ARGV, per operation: the record's key ('' for none), value and TTL,
# the number of parts of its commands, the commands (as ``run`` takes them).
# Returns, per operation, the record that held its key, or '' when it was queued.
_CLAIM_AND_ENQUEUE_MANY = (
    _RUN_LUA
    + """
local answers, i = {}, 1
while i <= #ARGV do
  local earlier, last = false, i + 3 + tonumber(ARGV[i + 3])
  if ARGV[i] ~= '' then
    earlier = redis.call('GET', ARGV[i])
    if not earlier then
      redis.call('SET', ARGV[i], ARGV[i + 1], 'EX', ARGV[i + 2])
    end
  end
  if earlier then
    answers[#answers + 1] = earlier
  else
    run(i + 4, last)
    answers[#answers + 1] = ''
  end
  i = last + 1
end
redis.call('RPUSH', KEYS[1], 1)
return answers
"""
)


def requests_send(
    *,
    connection: redis.Redis,
    settings: Settings,
    sends: Sequence[tuple[OperationRequest, KeyRecord | None]],
    wait: float,
) -> list[Delivery]:
    """Enqueue many requests, each with its Idempotency-Key ``record`` if it has one, and wait
    up to ``wait`` seconds in all for their answers: one ``Delivery`` per request, in order.

    One script per shard (``_CLAIM_AND_ENQUEUE_MANY``), all of them written in one round trip:
    a shard's requests are queued in the order given, so a wallet's are applied in that order.
    Nothing counts rate limits here (the caller has, for all of them). Redis failing before
    anything was sent is ``ServiceUnavailable``; after, ``OutcomeUnknown`` for all of them, as
    for one request (``operation_send``). An answer that does not come within ``wait`` (or is
    lost with the inbox's connection) is None."""
    inbox = inbox_for(connection, keep=settings.reply_ttl)
    sent = [(r if r.reply_to is not None else replace(r, reply_to=inbox.name), record) for r, record in sends]
    if wait > 0 and not inbox.ready(READY_WAIT):
        raise ServiceUnavailable("Redis is unavailable: the inbox cannot listen")
    by_shard: dict[int, list[int]] = {}
    for index, (request, _) in enumerate(sent):
        by_shard.setdefault(shard_for(request.wallet_id, settings.shard_count), []).append(index)
    scripts: list[Command] = []
    for shard, indexes in by_shard.items():
        args: list[Any] = []
        for index in indexes:
            request, record = sent[index]
            flat = _flat(_job_commands(settings, request, shard))
            args += (record.key, record.value, record.ttl) if record is not None else ("", "", 0)
            args += (len(flat), *flat)
        scripts.append(("EVAL", _CLAIM_AND_ENQUEUE_MANY, 1, keys.bell_key(shard), *args))
    with _sending(connection, f"a bulk enqueue of {len(sent)}") as conn:
        answers = _exchange(conn, scripts)
    earlier: dict[int, str] = {}
    for indexes, answer in zip(by_shard.values(), answers, strict=True):
        for index, held in zip(indexes, answer, strict=True):
            if held:
                earlier[index] = held.decode()
    deadline = time.monotonic() + wait
    deliveries: list[Delivery] = []
    for index, (request, _) in enumerate(sent):
        if index in earlier:
            deliveries.append(Delivery(result=None, earlier=earlier[index]))
            continue
        try:
            result = inbox.wait(request.operation_id, max(0.0, deadline - time.monotonic()))
        except OutcomeUnknown:
            result = None  # the inbox lost Redis meanwhile: not known yet
        deliveries.append(Delivery(result=result))
    return deliveries


def _flat(commands: Sequence[Command]) -> list[Any]:
    """``commands`` as the scripts' ``run`` takes them: each one's number of parts, then its parts."""
    return [part for command in commands for part in (len(command), *command)]


def _exchange(conn: Connection, commands: Sequence[Command]) -> list[Any]:
    """Write ``commands`` at once on ``conn`` and read their replies, in order."""
    conn.send_packed_command(conn.pack_commands(commands))  # type: ignore[no-untyped-call]
    return [conn.read_response() for _ in commands]


def reply_wait(
    connection: redis.Redis, settings: Settings, operation_id: UUID, timeout: float
) -> OperationResult | None:
    """Wait up to ``timeout`` seconds for the answer to an operation this process did not
    enqueue itself but whose request carries its inbox (a transfer's later leg); None if none
    came. ``OutcomeUnknown`` if Redis failed meanwhile."""
    return inbox_for(connection, keep=settings.reply_ttl).wait(operation_id, timeout)
