"""Claiming batches of job ids from shard queues, atomically, in one round trip.

A claim moves up to ``batch_size`` ids from the heads of the worker's shard
queues to its own processing list of each shard (the reliable-queue pattern):
a worker that dies mid-batch leaves its claimed ids there, and
``processing_requeue`` puts them back at the head of the queue, in order, when a
worker takes the shard over. Lists are per worker so that a worker that lost
its lease can never clear another's claim. The operation id being the ledger's
primary key makes redelivery harmless.

Idle workers block on the shards' bell lists, which the web node rings in the
same pipeline that enqueues; a claim that empties a queue silences its bell.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from shared import keys
from shared.config import MAX_BATCH_SIZE
from shared.sharding import queue_name

_CLAIM = """
local n = #KEYS / 4
local start = tonumber(ARGV[2])
local room = tonumber(ARGV[1])
local claimed = {}
for step = 0, n - 1 do
  if room <= 0 then break end
  local i = (start + step) % n
  local queue, processing, bell, claimers = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  -- Ids already in this worker's list were claimed by a call whose reply it never got
  -- (Redis went away): hand them out again before claiming more.
  local ids = redis.call('LRANGE', processing, 0, -1)
  local popped = false
  if room > #ids then
    popped = redis.call('LPOP', queue, room - #ids)
  end
  if popped then
    redis.call('RPUSH', processing, unpack(popped))
    redis.call('SADD', claimers, ARGV[3])
    for _, id in ipairs(popped) do ids[#ids + 1] = id end
  end
  if #ids > 0 then
    room = room - #ids
    claimed[#claimed + 1] = i
    claimed[#claimed + 1] = ids
  end
  if redis.call('LLEN', queue) == 0 then
    redis.call('DEL', bell)
  end
end
return claimed
"""

_REQUEUE = """
local moved = 0
while true do
  local id = redis.call('RPOP', KEYS[1])
  if not id then break end
  redis.call('LPUSH', KEYS[2], id)
  moved = moved + 1
end
if moved > 0 then
  redis.call('RPUSH', KEYS[3], 1)
end
return moved
"""


@dataclass(frozen=True, slots=True)
class ShardQueue:
    """A shard and the Redis keys of its queue."""

    shard: int

    @property
    def name(self) -> str:
        """The RQ queue name (``wallets.shard.NN``)."""
        return queue_name(self.shard)

    @property
    def key(self) -> str:
        return keys.queue_key(self.shard)

    def claim_keys(self, worker: str) -> list[str]:
        return [
            self.key,
            keys.processing_key(self.shard, worker),
            keys.bell_key(self.shard),
            keys.claimers_key(self.shard),
        ]


@dataclass(frozen=True, slots=True)
class ClaimedIds:
    """Job ids claimed together, shard by shard, each shard's in queue order."""

    parts: list[tuple[ShardQueue, list[str]]]

    @property
    def job_ids(self) -> list[str]:
        return [job_id for _, ids in self.parts for job_id in ids]

    @property
    def shards(self) -> list[ShardQueue]:
        return [shard for shard, _ in self.parts]


def batch_claim(
    connection: redis.Redis, shards: Sequence[ShardQueue], *, worker: str, batch_size: int, start: int = 0
) -> ClaimedIds | None:
    """Claim up to ``batch_size`` ids, shard after shard from ``shards[start]``; None if all are empty.

    One batch may span shards: they all belong to this worker, and operations of
    different shards never concern the same wallet, so their relative order is free.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be within 1..{MAX_BATCH_SIZE}")
    claim_keys = [key for shard in shards for key in shard.claim_keys(worker)]
    found: Any = connection.eval(_CLAIM, len(claim_keys), *claim_keys, batch_size, start % len(shards), worker)
    if not found:
        return None
    pairs = zip(found[::2], found[1::2], strict=True)
    return ClaimedIds(parts=[(shards[int(index)], [i.decode() for i in ids]) for index, ids in pairs])


def processing_requeue(connection: redis.Redis, shard: ShardQueue, *, claimers: Collection[str] | None = None) -> int:
    """Put ids claimed on ``shard`` back at the head of its queue, in order; returns how many.

    ``claimers`` limits it to those workers' claims; by default every worker's (what the
    worker that has just leased the shard does).
    """
    names: Any = connection.smembers(keys.claimers_key(shard.shard)) if claimers is None else claimers
    moved = 0
    for name in names:
        worker = name.decode() if isinstance(name, bytes) else name
        processing = keys.processing_key(shard.shard, worker)
        count: Any = connection.eval(_REQUEUE, 3, processing, shard.key, keys.bell_key(shard.shard))
        connection.srem(keys.claimers_key(shard.shard), worker)
        moved += int(count)
    return moved


def claimers_of(connection: redis.Redis, shards: Sequence[ShardQueue]) -> dict[ShardQueue, set[str]]:
    """The workers that have claimed from each shard, in one round trip."""
    with connection.pipeline(transaction=False) as pipe:
        for shard in shards:
            pipe.smembers(keys.claimers_key(shard.shard))
        found: list[Any] = pipe.execute()
    return {shard: {name.decode() for name in names} for shard, names in zip(shards, found, strict=True)}


def processing_clear(pipeline: redis.client.Pipeline, shards: Sequence[ShardQueue], *, worker: str) -> None:
    """Forget a finished batch: delete this worker's processing lists of its shards."""
    pipeline.delete(*(keys.processing_key(shard.shard, worker) for shard in shards))


def bells_wait(connection: redis.Redis, shards: Sequence[ShardQueue], timeout: float) -> bool:
    """Block until a shard's bell rings or ``timeout`` seconds pass; True if one rang."""
    return connection.blpop([keys.bell_key(s.shard) for s in shards], timeout=timeout) is not None
