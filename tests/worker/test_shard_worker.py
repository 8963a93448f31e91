"""``ShardWorker`` in-process on real Redis and PostgreSQL: batches, replies, poison, recovery."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from decimal import Decimal

import psycopg2
import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from shared import keys
from shared.config import Settings
from shared.connections import engine_from_settings
from shared.messages import OPERATION_JOB
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.sharding import queue_name, shard_for
from shared.tables import wallet_operations
from tests.support.factories import operation, wallet_row
from tests.support.stack import RedisServer
from tests.support.workers import Answers, Rig, balance
from web.wallets.money.queueing import operation_send
from worker import batches as batches_module
from worker.claim import batch_claim
from worker.leases import MIN_BACKOFF as MAX_FIRST_BACKOFF
from worker.shard_worker import ShardWorker

DEPOSIT, WITHDRAW = OperationType.DEPOSIT, OperationType.WITHDRAW


def ledger_order(engine: Engine, wallet_id: uuid.UUID) -> list[uuid.UUID]:
    with engine.connect() as conn:
        query = select(wallet_operations.c.id).where(wallet_operations.c.wallet_id == wallet_id)
        return list(conn.execute(query.order_by(wallet_operations.c.seq)).scalars())


def test_burst_applies_everything_and_replies(rig: Rig) -> None:
    ids = [wallet_row(rig.db) for _ in range(8)]
    requests = [operation(w, DEPOSIT, "2.00") for w in ids for _ in range(5)]
    for request in requests:
        rig.enqueue(request)
    assert rig.worker().work(burst=True) is True
    for request in requests:
        assert rig.reply(request).status is OperationStatus.APPLIED
    assert [rig.balance(w) for w in ids] == [Decimal("10.00")] * 8
    assert rig.redis.keys(keys.PROCESSING_PATTERN) == []
    assert rig.redis.keys(keys.BELL_PATTERN) == []


def test_fifo_per_wallet_across_batches(rig: Rig) -> None:
    wallet = wallet_row(rig.db)
    requests = [operation(wallet, DEPOSIT if i % 2 == 0 else WITHDRAW, "1.00") for i in range(25)]
    for request in requests:
        rig.enqueue(request)
    rig.worker(batch_size=7).work(burst=True)
    assert ledger_order(rig.db, wallet) == [r.operation_id for r in requests]
    assert [rig.reply(r).status for r in requests] == [OperationStatus.APPLIED] * 25
    assert rig.balance(wallet) == Decimal("1.00")


def test_poison_job_goes_to_failed_registry_alone(rig: Rig) -> None:
    wallet = wallet_row(rig.db)
    good = operation(wallet, DEPOSIT, "4.00")
    shard = shard_for(wallet, rig.settings.shard_count)
    queue = Queue(queue_name(shard), connection=rig.redis, serializer=JSONSerializer)
    bad_args = queue.enqueue(OPERATION_JOB, {"v": 1, "operation_id": "nope"})
    wrong_function = queue.enqueue("os.system", "echo owned")
    rig.enqueue(good)
    rig.worker([shard]).work(burst=True)
    assert rig.reply(good).balance_after == Decimal("4.00")
    failed = queue.failed_job_registry.get_job_ids()
    assert set(failed) == {bad_args.id, wrong_function.id}
    for job_id, reason in ((bad_args.id, "missing field"), (wrong_function.id, "not an operation job")):
        job = Job.fetch(job_id, connection=rig.redis, serializer=JSONSerializer)
        assert job.get_status() == "failed"
        latest = job.latest_result()
        assert latest is not None
        assert reason in (latest.exc_string or "")


def test_redelivered_job_changes_nothing(rig: Rig) -> None:
    wallet = wallet_row(rig.db)
    request = operation(wallet, DEPOSIT, "9.99")
    rig.enqueue(request)
    rig.worker().work(burst=True)
    first = rig.reply(request)
    rig.redeliver(shard_for(wallet, rig.settings.shard_count), request)
    rig.worker().work(burst=True)
    assert rig.reply(request) == first
    assert rig.balance(wallet) == Decimal("9.99")
    assert ledger_order(rig.db, wallet) == [request.operation_id]


def test_batch_claimed_by_a_dead_worker_is_requeued_in_order(rig: Rig) -> None:
    wallet = wallet_row(rig.db)
    shard = shard_for(wallet, rig.settings.shard_count)
    requests = [operation(wallet, DEPOSIT if i < 3 else WITHDRAW, "1.00") for i in range(7)]
    for request in requests:
        rig.enqueue(request)
    dead = rig.worker([shard])
    dead.rebalance()
    claim = batch_claim(rig.redis, dead.shard_queues, worker=dead.name, batch_size=4)
    assert claim is not None
    assert claim.job_ids == [str(r.operation_id) for r in requests[:4]]
    rig.kill(dead)  # its claim stays
    # The next worker to lease the shard takes the claimed ids back first.
    rig.worker([shard]).work(burst=True)
    assert ledger_order(rig.db, wallet) == [r.operation_id for r in requests]
    assert [rig.reply(r).status for r in requests] == [OperationStatus.APPLIED] * 6 + [OperationStatus.REJECTED]
    assert rig.balance(wallet) == Decimal("0.00")


def test_postgres_outage_is_retried_not_failed(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    wallet = wallet_row(rig.db)
    request = operation(wallet, DEPOSIT, "3.00")
    rig.enqueue(request)
    real = batches_module.ledger_apply
    outages = [2]

    def flaky(conn, requests, **kw):  # type: ignore[no-untyped-def]
        if outages[0]:
            outages[0] -= 1
            raise OperationalError("SELECT", {}, psycopg2.OperationalError("server closed the connection"))
        return real(conn, requests, **kw)

    monkeypatch.setattr(batches_module, "ledger_apply", flaky)
    worker = rig.worker()
    # Each outage drops the leases and abandons the batch; leasing again requeues and retries it.
    while outages != [0] or not rig.replies(request):
        worker.work(burst=True)
    assert rig.reply(request).balance_after == Decimal("3.00")


def test_operation_that_always_fails_is_isolated(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    wallet = wallet_row(rig.db)
    good = [operation(wallet, DEPOSIT, "1.00") for _ in range(3)]
    cursed = operation(wallet, DEPOSIT, "6.66")
    for request in (good[0], cursed, good[1], good[2]):
        rig.enqueue(request)
    real = batches_module.ledger_apply

    def refuses_cursed(conn, requests, **kw):  # type: ignore[no-untyped-def]
        if any(r.operation_id == cursed.operation_id for r in requests):
            raise ValueError("cannot apply this one")
        return real(conn, requests, **kw)

    monkeypatch.setattr(batches_module, "ledger_apply", refuses_cursed)
    rig.worker().work(burst=True)
    assert [rig.reply(r).balance_after for r in good] == [Decimal("1.00"), Decimal("2.00"), Decimal("3.00")]
    # Its final answer is in the ledger, so that nothing can apply it later.
    refused = rig.reply(cursed)
    assert (refused.status, refused.error) == (OperationStatus.REJECTED, "Operation could not be processed")
    assert ledger_order(rig.db, wallet) == [
        good[0].operation_id,
        cursed.operation_id,
        *(r.operation_id for r in good[1:]),
    ]
    assert rig.balance(wallet) == Decimal("3.00")


def test_a_read_only_database_delays_operations_and_never_fails_them(rig: Rig) -> None:
    """Right after a failover the database may be read-only: that is a condition to wait out,
    not a final answer for the operations."""
    wallet = wallet_row(rig.db)
    request = operation(wallet, DEPOSIT, "3.00")
    rig.enqueue(request)
    shard = shard_for(wallet, rig.settings.shard_count)
    database = rig.db.url.database
    engine = engine_from_settings(rig.settings, pool_size=1, pre_ping=False)
    worker = ShardWorker(engine=engine, settings=rig.settings, connection=rig.redis, shards=[shard])
    with rig.db.begin() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    try:
        worker.work(burst=True)
    finally:
        with rig.db.begin() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
    assert ledger_order(rig.db, wallet) == []
    assert rig.replies(request) == []
    queue = Queue(queue_name(shard), connection=rig.redis, serializer=JSONSerializer)
    assert queue.failed_job_registry.get_job_ids() == []
    assert queue.get_job_ids() == [str(request.operation_id)]  # back in its queue, in order
    time.sleep(MAX_FIRST_BACKOFF)
    worker.work(burst=True)
    assert rig.reply(request).status is OperationStatus.APPLIED
    assert rig.balance(wallet) == Decimal("3.00")
    engine.dispose()


def test_an_operation_that_can_never_apply_is_rejected_in_the_ledger_for_good(rig: Rig) -> None:
    wallet = wallet_row(rig.db)
    other = wallet_row(rig.db)
    # A database rule the operation's data breaks (as a constraint added by an operator would).
    with rig.db.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_1313() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.balance = 13.13 THEN RAISE check_violation USING MESSAGE = 'no 13.13'; END IF;"
            " RETURN NEW; END $$;"
            " CREATE TRIGGER refuse_1313 BEFORE UPDATE ON wallets FOR EACH ROW EXECUTE FUNCTION refuse_1313()"
        )
    try:
        doomed = operation(wallet, DEPOSIT, "13.13")
        fine = operation(other, DEPOSIT, "1.00")
        rig.enqueue(doomed)
        rig.enqueue(fine)
        rig.worker().work(burst=True)
    finally:
        with rig.db.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_1313 ON wallets; DROP FUNCTION refuse_1313()")
    refused = rig.reply(doomed)
    assert (refused.status, refused.error) == (OperationStatus.REJECTED, "Operation could not be processed")
    assert rig.reply(fine).status is OperationStatus.APPLIED
    # The rule is gone; a requeue (from the dashboard, or a redelivery) must not apply it now.
    rig.redeliver(shard_for(wallet, rig.settings.shard_count), doomed)
    rig.worker().work(burst=True)
    assert rig.reply(doomed) == refused
    assert rig.balance(wallet) == Decimal("0.00")
    with rig.db.connect() as conn:
        status = conn.execute(select(wallet_operations.c.status).where(wallet_operations.c.id == doomed.operation_id))
        assert status.scalar_one() == "rejected"


def test_a_worker_rides_out_redis_at_its_memory_limit(db: Engine, local_settings: Settings) -> None:
    """Writes refused with OOM (``maxmemory``) are retried with backoff, not a reason to exit."""
    server = RedisServer(persistent=False)
    server.start()
    connection = redis.Redis(port=server.port)
    settings = dataclasses.replace(local_settings, redis_url=server.url)
    try:
        wallet = wallet_row(db)
        request = operation(wallet, DEPOSIT, "2.00")
        answers = Answers(connection)
        operation_send(connection=connection, settings=settings, request=request, wait=0)
        connection.config_set("maxmemory", "1")
        threading.Timer(1.5, connection.config_set, ("maxmemory", "0")).start()
        worker = ShardWorker(engine=db, settings=settings, connection=connection)
        started = time.monotonic()
        worker.work(burst=True)
        assert time.monotonic() - started >= 1.4  # it waited for Redis, then went on
        assert answers.last(request).status is OperationStatus.APPLIED
        assert balance(db, wallet) == Decimal("2.00")
    finally:
        connection.close()
        server.stop()
