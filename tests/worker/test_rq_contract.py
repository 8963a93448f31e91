"""The RQ internals this service relies on (rq is pinned in requirements/base.txt).

If an rq upgrade changes any of these, this file fails before production does.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from decimal import Decimal
from uuid import UUID

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import now, utcparse
from sqlalchemy import Engine

from shared import keys
from shared.config import Settings
from shared.messages import OPERATION_JOB, OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.rq_contract import JOB_TIMEOUT, Finished, StoredJob, enqueue_commands, jobs_fetch, jobs_finish
from shared.sharding import queue_name, shard_for
from tests.support.factories import operation, wallet_row
from tests.support.roundtrips import count_round_trips
from tests.support.workers import Answers, Rig, reply_push
from web.wallets.money.inbox import inbox_for
from web.wallets.money.queueing import operation_send
from worker import jobs


def test_queue_and_job_key_names(local_redis: redis.Redis) -> None:
    queue = Queue(queue_name(7), connection=local_redis)
    assert queue.key == "rq:queue:wallets.shard.07"
    assert Job.key_for("abc") == "rq:job:abc" == keys.job_key("abc")
    assert queue.key == keys.queue_key(7)


def test_enqueue_and_wait_is_one_round_trip(
    db: Engine, local_redis: redis.Redis, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = wallet_row(db)
    request = operation(wallet, OperationType.DEPOSIT, "1.00")
    operation_send(connection=local_redis, settings=local_settings, request=request, wait=0)  # warms the Queue cache
    second = operation(wallet, OperationType.DEPOSIT, "1.00")
    answer = OperationResult(second.operation_id, OperationStatus.APPLIED, Decimal("2.00"))
    reply_push(local_redis, second.operation_id, answer)  # as if the worker were instant
    with count_round_trips(monkeypatch) as trips:
        assert operation_send(connection=local_redis, settings=local_settings, request=second, wait=1).result == answer
    assert trips[0] == 1
    assert queue_name(shard_for(wallet, local_settings.shard_count)) in [q.name for q in Queue.all(local_redis)]
    job = Job.fetch(str(second.operation_id), connection=local_redis, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == queue_name(shard_for(wallet, local_settings.shard_count))
    # The job carries the request, and the inbox its answer goes to.
    assert OperationRequest.from_wire(job.args[0]) == dataclasses.replace(
        second, reply_to=inbox_for(local_redis, keep=60).name
    )
    assert job.result_ttl == local_settings.result_ttl


def test_the_job_hash_is_the_one_rq_writes_for_the_job(local_settings: Settings) -> None:
    request = operation(uuid.uuid4(), OperationType.WITHDRAW, "12.34")
    hset, sadd, rpush = enqueue_commands(request=request, shard=5, result_ttl=500, failure_ttl=86400)
    ours = dict(zip(hset[2::2], hset[3::2], strict=True))
    job = Job.create(
        OPERATION_JOB,
        args=[request.to_wire()],
        id=str(request.operation_id),
        connection=redis.Redis(),
        serializer=JSONSerializer,
        timeout=JOB_TIMEOUT,
        result_ttl=500,
        failure_ttl=86400,
        description=f"WITHDRAW 12.34 to wallet {request.wallet_id}",
        origin=queue_name(5),
        status=JobStatus.QUEUED,
    )
    job.enqueued_at = utcparse(ours["enqueued_at"])
    job.created_at = utcparse(ours["created_at"])
    theirs = {field: value.value if isinstance(value, JobStatus) else value for field, value in job.to_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs
    assert hset[1] == job.key
    assert sadd == ("SADD", Queue.redis_queues_keys, keys.queue_key(5))
    assert rpush == ("RPUSH", keys.queue_key(5), job.id)


@pytest.mark.parametrize("batch", [10, 100])
def test_worker_round_trips_per_batch_do_not_grow_with_its_size(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    wallet = wallet_row(rig.db)
    for _ in range(batch):
        rig.enqueue(operation(wallet, OperationType.DEPOSIT, "1.00"))
    worker = rig.worker([shard_for(wallet, 16)], shard_count=16)
    worker.bootstrap()  # leases its shard
    worker.chores()  # periodic, not per batch
    with count_round_trips(monkeypatch) as trips:
        assert worker.run_batch()
    # claim, fetch the jobs, finish: independent of the batch size.
    assert trips[0] == 3
    worker.teardown()


def test_finished_jobs_look_finished_to_rq(rig: Rig) -> None:
    wallet = wallet_row(rig.db)
    request = operation(wallet, OperationType.DEPOSIT, "5.00")
    rig.enqueue(request)
    worker = rig.worker()
    worker.work(burst=True)
    job = Job.fetch(str(request.operation_id), connection=rig.redis, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED
    latest = job.latest_result()
    assert latest is not None
    assert latest.return_value["status"] == "applied"
    assert Decimal(latest.return_value["balance_after"]) == Decimal("5.00")
    registry = FinishedJobRegistry(job.origin, connection=rig.redis)
    assert str(request.operation_id) in registry.get_job_ids()
    assert 0 < rig.redis.ttl(job.key) <= rig.settings.result_ttl
    # The dashboard reads these worker fields. The count is every job the worker finished: this
    # one, and any credit its transfer sweep redid for a transfer an earlier test left pending
    # in the shared database (it leases every shard).
    found = Worker.find_by_key(worker.key, connection=rig.redis)
    assert found is not None
    finished = sum(
        FinishedJobRegistry(queue_name(shard), connection=rig.redis).count for shard in range(rig.settings.shard_count)
    )
    assert found.successful_job_count == finished >= 1


def test_a_finished_job_leaves_what_rqs_own_success_handling_leaves(local_redis: redis.Redis) -> None:
    """``jobs_finish`` writes fewer commands than ``Job._handle_success`` and ``Job.cleanup``;
    what they leave in Redis must be the same (two jobs alike but for their ids)."""
    wallet = uuid.uuid4()
    theirs_request, ours_request = (operation(wallet, OperationType.DEPOSIT, "5.00") for _ in range(2))
    for request in (theirs_request, ours_request):
        for command in enqueue_commands(request=request, shard=2, result_ttl=500, failure_ttl=86400):
            local_redis.execute_command(*command)
    with local_redis.pipeline(transaction=False) as pipe:
        restore = jobs_fetch(pipe, local_redis, [str(theirs_request.operation_id), str(ours_request.operation_id)])
        stored, ours = restore(pipe.execute())
    theirs = stored.rq_job()
    started = now()
    results = {
        job.id: OperationResult(UUID(job.id), OperationStatus.APPLIED, Decimal("5.00")) for job in (theirs, ours)
    }
    with local_redis.pipeline() as pipe:  # RQ's own, as a stock worker runs it
        theirs.started_at, theirs.ended_at = started, now()
        theirs._result = results[theirs.id].to_wire()
        theirs._handle_success(500, pipeline=pipe, worker_name="w")
        theirs.cleanup(500, pipeline=pipe, remove_from_queue=False)
        pipe.execute()
    with local_redis.pipeline() as pipe:
        jobs_finish(
            pipe,
            worker_name="w",
            started_at=started,
            finished=[Finished(ours, results[ours.id])],
            failed=[],
            default_result_ttl=500,
        )
        pipe.execute()

    def left(job: Job | StoredJob) -> dict[str, object]:
        fetched = Job.fetch(job.id, connection=local_redis, serializer=JSONSerializer)
        latest = fetched.latest_result()
        assert latest is not None
        fields = local_redis.hgetall(job.key)
        return {
            "fields": sorted(fields),
            "status": fetched.get_status(),
            "times": [
                field in fields and bool(utcparse(fields[field].decode())) for field in (b"started_at", b"ended_at")
            ],
            "result": (latest.type, {**(latest.return_value or {}), "operation_id": None}, latest.worker_name),
            "ttls": (round(local_redis.ttl(job.key), -1), round(local_redis.ttl(f"rq:results:{job.id}"), -1)),
            "registered": job.id in FinishedJobRegistry(queue_name(2), connection=local_redis).get_job_ids(),
        }

    assert left(ours) == left(theirs)
    assert left(ours)["status"] == JobStatus.FINISHED
    assert left(ours)["registered"]
    registry = FinishedJobRegistry.key_template.format(queue_name(2))
    assert abs(local_redis.zscore(registry, ours.id) - local_redis.zscore(registry, theirs.id)) <= 1


def test_worker_is_registered_like_any_rq_worker(rig: Rig) -> None:
    worker = rig.worker([3, 4])
    worker.bootstrap()
    worker.rebalance()
    try:
        [registered] = Worker.all(connection=rig.redis)
        assert registered.name == worker.name
        assert logging.getLogger("rq.worker").level == logging.WARNING  # no per-queue cleanup lines
        assert registered.queue_names() == ["wallets.shard.03", "wallets.shard.04"]
    finally:
        worker.teardown()


def test_job_function_applies_one_operation_like_a_stock_worker(
    db: Engine, local_redis: redis.Redis, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "get_redis", lambda: local_redis)
    wallet = wallet_row(db)
    request = operation(wallet, OperationType.DEPOSIT, "8.00")
    answers = Answers(local_redis)
    operation_send(connection=local_redis, settings=local_settings, request=request, wait=0)
    job = Job.fetch(str(request.operation_id), connection=local_redis, serializer=JSONSerializer)
    assert Decimal(job.perform()["balance_after"]) == Decimal("8.00")
    assert Decimal(job.perform()["balance_after"]) == Decimal("8.00")  # a second run is answered from the ledger
    assert [answer.balance_after for answer in answers.of(request)] == [Decimal("8.00")] * 2
    answers.close()


def test_a_keyed_enqueue_records_the_key_and_queues_atomically(
    db: Engine, local_redis: redis.Redis, local_settings: Settings
) -> None:
    from web.wallets.money.queueing import KeyRecord

    wallet = wallet_row(db)
    first = operation(wallet, OperationType.DEPOSIT, "1.00")
    record = KeyRecord(key="wallets:idempotency:test", value="fp|first", ttl=60)
    sent = operation_send(connection=local_redis, settings=local_settings, request=first, wait=0, record=record)
    assert sent.earlier is None
    queue = Queue(queue_name(shard_for(wallet, local_settings.shard_count)), connection=local_redis)
    assert queue.job_ids == [str(first.operation_id)]
    assert local_redis.get("wallets:idempotency:test") == b"fp|first"
    second = operation(wallet, OperationType.DEPOSIT, "1.00")
    again = operation_send(connection=local_redis, settings=local_settings, request=second, wait=0, record=record)
    assert again.earlier == "fp|first"
    assert queue.job_ids == [str(first.operation_id)]  # nothing queued for the second
    assert local_redis.exists(keys.job_key(second.operation_id)) == 0


def test_a_stopped_worker_leaves_the_dashboards_at_once(rig: Rig) -> None:
    worker = rig.worker([3, 4])
    worker.bootstrap()
    assert [w.name for w in Worker.all(connection=rig.redis)] == [worker.name]
    worker.teardown()  # releases its leases first, then registers its death
    assert Worker.all(connection=rig.redis) == []


def test_rq_suspend_holds_the_batches_and_rq_resume_releases_them(rig: Rig) -> None:
    from rq.suspension import resume, suspend

    wallet = wallet_row(rig.db)
    request = operation(wallet, OperationType.DEPOSIT, "1.00")
    rig.enqueue(request)
    worker = rig.worker([shard_for(wallet, 16)], shard_count=16)
    worker.bootstrap()
    suspend(rig.redis)
    try:
        worker.chores()
        assert worker.run_batch() is False
        assert rig.replies(request) == []
        worker._wait()  # the operation's bell rang: returns at once
        shown = Worker.find_by_key(worker.presence.key, connection=rig.redis, serializer=JSONSerializer)
        assert shown is not None
        assert shown.get_state() == "suspended"  # what rq-dashboard's workers page shows
    finally:
        resume(rig.redis)
    worker._due.pop("suspension")
    worker.chores()
    assert worker.run_batch() is True
    assert len(rig.replies(request)) == 1
    worker.teardown()


def test_every_shard_queue_is_listed_from_the_first_worker_start(rig: Rig) -> None:
    assert Queue.all(connection=rig.redis) == []
    worker = rig.worker([3])
    worker.bootstrap()
    listed = sorted(queue.name for queue in Queue.all(connection=rig.redis))
    assert listed == [queue_name(shard) for shard in range(rig.settings.shard_count)]
    worker.teardown()


def test_expired_jobs_leave_the_finished_registry_within_a_second(rig: Rig) -> None:
    """A dashboard counts a registry and lists the jobs whose records exist: the two agree."""
    wallet = wallet_row(rig.db)
    requests = [operation(wallet, OperationType.DEPOSIT, "1.00") for _ in range(3)]
    short_lived = dataclasses.replace(rig.settings, result_ttl=1)
    for request in requests:
        operation_send(connection=rig.redis, settings=short_lived, request=request, wait=0)
    worker = rig.worker()
    worker.work(burst=True)
    registry = FinishedJobRegistry(queue_name(shard_for(wallet, worker.settings.shard_count)), connection=rig.redis)
    assert registry.count == 3
    time.sleep(2.1)  # the records expired; RQ's own cleanup would drop the entries within a minute
    assert not any(rig.redis.exists(keys.job_key(r.operation_id)) for r in requests)
    worker.bootstrap()
    worker.chores()
    assert rig.redis.zcard(registry.key) == 0
    worker.teardown()
