"""``batch_claim``: atomic, ordered, spanning the worker's shards up to the batch size."""

from __future__ import annotations

import redis

from shared import keys
from worker.claim import ClaimedIds, ShardQueue, batch_claim, claimers_of, processing_clear, processing_requeue


def shard_queues(connection: redis.Redis, count: int) -> list[ShardQueue]:
    return [ShardQueue(shard) for shard in range(count)]


def fill(connection: redis.Redis, shards: list[ShardQueue], per_shard: int) -> None:
    for shard in shards:
        connection.rpush(shard.key, *[f"{shard.shard}-{i}" for i in range(per_shard)])
        connection.rpush(keys.bell_key(shard.shard), 1)


def test_one_claim_spans_shards(local_redis: redis.Redis) -> None:
    shards = shard_queues(local_redis, 4)
    fill(local_redis, shards, 2)
    claim = batch_claim(local_redis, shards, worker="w1", batch_size=100)
    assert claim is not None
    assert [(s.shard, ids) for s, ids in claim.parts] == [(i, [f"{i}-0", f"{i}-1"]) for i in range(4)]
    for shard in shards:
        assert local_redis.llen(shard.key) == 0
        assert local_redis.lrange(keys.processing_key(shard.shard, "w1"), 0, -1) == [
            f"{shard.shard}-0".encode(),
            f"{shard.shard}-1".encode(),
        ]
        assert local_redis.exists(keys.bell_key(shard.shard)) == 0


def test_claim_stops_at_the_batch_size_and_rotates(local_redis: redis.Redis) -> None:
    shards = shard_queues(local_redis, 3)
    fill(local_redis, shards, 3)
    first = batch_claim(local_redis, shards, worker="w1", batch_size=4)
    assert first is not None
    assert first.job_ids == ["0-0", "0-1", "0-2", "1-0"]
    assert local_redis.exists(keys.bell_key(1)) == 1  # shard 1 still has work
    finish(local_redis, first)
    second = batch_claim(local_redis, shards, worker="w1", batch_size=4, start=2)
    assert second is not None
    assert second.job_ids == ["2-0", "2-1", "2-2", "1-1"]
    finish(local_redis, second)
    third = batch_claim(local_redis, shards, worker="w1", batch_size=4, start=0)
    assert third is not None
    finish(local_redis, third)
    assert batch_claim(local_redis, shards, worker="w1", batch_size=4) is None


def finish(connection: redis.Redis, claim: ClaimedIds) -> None:
    with connection.pipeline() as pipe:
        processing_clear(pipe, claim.shards, worker="w1")
        pipe.execute()


def test_requeue_puts_claimed_ids_back_in_front_in_order(local_redis: redis.Redis) -> None:
    [shard] = shard_queues(local_redis, 1)
    fill(local_redis, [shard], 5)
    claim = batch_claim(local_redis, [shard], worker="w1", batch_size=3)
    assert claim is not None
    assert processing_requeue(local_redis, shard) == 3
    assert local_redis.lrange(shard.key, 0, -1) == [f"0-{i}".encode() for i in range(5)]
    assert local_redis.exists(keys.processing_key(0, "w1")) == 0
    assert local_redis.llen(keys.bell_key(0)) >= 1


def test_requeue_collects_every_workers_claims(local_redis: redis.Redis) -> None:
    [shard] = shard_queues(local_redis, 1)
    fill(local_redis, [shard], 3)
    first = batch_claim(local_redis, [shard], worker="dead-a", batch_size=2)
    second = batch_claim(local_redis, [shard], worker="dead-b", batch_size=1)
    assert (first and first.job_ids, second and second.job_ids) == (["0-0", "0-1"], ["0-2"])
    assert claimers_of(local_redis, [shard]) == {shard: {"dead-a", "dead-b"}}
    assert processing_requeue(local_redis, shard, claimers=["dead-b"]) == 1
    assert local_redis.lrange(shard.key, 0, -1) == [b"0-2"]
    assert processing_requeue(local_redis, shard) == 2
    assert local_redis.lrange(shard.key, 0, -1) == [b"0-0", b"0-1", b"0-2"]
    assert claimers_of(local_redis, [shard]) == {shard: set()}


def test_a_claim_whose_reply_was_lost_is_handed_out_again(local_redis: redis.Redis) -> None:
    shards = shard_queues(local_redis, 2)
    fill(local_redis, shards, 2)
    lost = batch_claim(local_redis, shards, worker="w1", batch_size=3)  # its reply never arrives
    assert lost is not None
    retried = batch_claim(local_redis, shards, worker="w1", batch_size=3)
    assert retried is not None
    assert retried.job_ids == lost.job_ids
    bigger = batch_claim(local_redis, shards, worker="w1", batch_size=4)
    assert bigger is not None
    assert bigger.job_ids == [*lost.job_ids, "1-1"]
