"""Fault tests: real processes, killed and cut off mid-load; nothing lost, nothing applied twice.

Each test drives thousands of operations with Idempotency-Keys over HTTP against
gunicorn and two shard workers, injects a fault, lets everything settle, then
replays every key: every answer must repeat, every 200 must be in the ledger
exactly once, and the ledger must explain every balance (the ``db`` fixture).
They use their own redis-server on a spare port, never the machine's.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import redis
from rq import Worker
from sqlalchemy import Engine, func, select

from deploy.processes import free_port, start_gunicorn, start_worker, stop, wait_until
from shared import keys
from shared.tables import wallet_operations
from shared.wallet_controls import Controls
from tests.support.api import NO_ANNOTATIONS
from tests.support.databases import terminate_backends
from tests.support.stack import RedisServer, Stack, call, keyed_call, lease_holders, running_stack, settle

pytestmark = pytest.mark.fault

SHARDS = "4"


@pytest.fixture
def stack(database: Engine) -> Iterator[Stack]:
    with running_stack(SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2") as stack:
        yield stack


def diagnose(stack: Stack, wallet: str, key: str) -> dict[str, Any]:
    """What Redis knows of a key's operation (for failure messages)."""
    connection = redis.Redis(port=stack.redis.port)
    record = connection.get(keys.idempotency_key(uuid.UUID(wallet), key))
    found: dict[str, Any] = {"key": key, "record": record}
    if record:
        operation_id = record.decode().split("|")[1]
        found["job"] = connection.hgetall(keys.job_key(operation_id)).get(b"status")
        found["queues"] = {k: connection.llen(k) for k in connection.keys(keys.SHARD_QUEUES_PATTERN)}
        found["processing"] = {k: connection.lrange(k, 0, -1)[:3] for k in connection.keys(keys.PROCESSING_PATTERN)}
        found["workers"] = connection.zrange(keys.WORKERS_KEY, 0, -1, withscores=True)
    return found


def run_load(stack: Stack, engine: Engine, fault: Callable[[], None], operations: int = 2400) -> None:
    """Load with keyed operations, ``fault`` injected a third of the way in; then replay every key."""
    wallets = []
    for _ in range(12):
        status, content = call(stack.base, "POST", "/api/v1/wallets")
        assert status == 201
        wallets.append(json.loads(content)["id"])
    plan = [
        (
            wallets[i % len(wallets)],
            {"operationType": "DEPOSIT" if i % 3 else "WITHDRAW", "amount": f"{1 + i % 50}.{i % 100:02d}"},
            f"fault-{uuid.uuid4()}",
        )
        for i in range(operations)
    ]
    done = [0]
    trigger = threading.Event()

    def send(item: tuple[str, dict[str, str], str]) -> tuple[int, bytes]:
        answer = keyed_call(stack.base, *item)
        done[0] += 1
        if done[0] == operations // 3:
            trigger.set()
        return answer

    def inject() -> None:
        trigger.wait(120)
        fault()

    faulter = threading.Thread(target=inject)
    faulter.start()
    with ThreadPoolExecutor(16) as pool:
        firsts = list(pool.map(send, plan))
    faulter.join()
    assert trigger.is_set(), "the fault was never injected"
    finals = [settle(stack.base, *item, first) for item, first in zip(plan, firsts, strict=True)]
    unsettled = [(w, k) for (w, _, k), (status, _) in zip(plan, finals, strict=True) if status not in (200, 400)]
    assert not unsettled, [diagnose(stack, wallet, key) for wallet, key in unsettled[:3]]
    # Replaying every key repeats every final answer, byte for byte.
    with ThreadPoolExecutor(16) as pool:
        replays = list(pool.map(lambda item: keyed_call(stack.base, *item), plan))
    assert replays == finals
    for (_, _, _), first, final in zip(plan, firsts, finals, strict=True):
        if first[0] in (200, 400):
            assert first == final
    # Every 200 is in the ledger exactly once (its id is the primary key; count by key too).
    applied = [json.loads(body)["operation_id"] for status, body in finals if status == 200]
    assert len(applied) == len(set(applied))
    with engine.connect() as conn:
        keys = [key for _, _, key in plan]
        rows = conn.execute(
            select(wallet_operations.c.idempotency_key, func.count())
            .where(wallet_operations.c.idempotency_key.in_(keys))
            .group_by(wallet_operations.c.idempotency_key)
        ).all()
        assert all(count == 1 for _, count in rows)
        assert len(rows) == operations  # every operation was decided once: applied or rejected
        found = conn.execute(
            select(func.count()).select_from(wallet_operations).where(wallet_operations.c.id.in_(applied))
        ).scalar_one()
        assert found == len(applied)
    expected = dict.fromkeys(wallets, Decimal(0))
    for (wallet, body, _), (status, _) in zip(plan, finals, strict=True):
        if status == 200:
            sign = 1 if body["operationType"] == "DEPOSIT" else -1
            expected[wallet] += sign * Decimal(body["amount"])
    for wallet in wallets:
        status, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
        assert status == 200, content
        assert Decimal(json.loads(content)["balance"]) == expected[wallet]


def test_worker_killed_mid_load(stack: Stack, db: Engine) -> None:
    def kill() -> None:
        os.kill(stack.workers[0].pid, signal.SIGKILL)
        stack.workers[0].wait()

    run_load(stack, db, kill)


def test_postgres_connections_killed_mid_load(stack: Stack, db: Engine) -> None:
    def terminate() -> None:
        assert terminate_backends(db, "wallet-worker") >= 2

    run_load(stack, db, terminate)


def test_redis_restarted_mid_load(stack: Stack, db: Engine) -> None:
    def restart() -> None:
        stack.redis.stop()
        time.sleep(1)
        stack.redis.start()

    run_load(stack, db, restart)


def test_a_standby_never_writes_and_takes_over_within_10_s(database: Engine, db: Engine) -> None:
    server = RedisServer()
    server.start()
    env = {"REDIS_URL": server.url, "SHARD_COUNT": "1", "REPLY_TIMEOUT": "2"}
    connection = redis.Redis.from_url(server.url)
    port = free_port()
    first = start_worker(**env)
    procs = [first]
    try:
        wait_until(lambda: _serving(connection) == {"wallets.shard.00": 1}, timeout=30, what="the first worker")
        second = start_worker(**env)
        procs.append(second)
        web = start_gunicorn(port, **env)
        procs.append(web)
        wait_until(lambda: len(Worker.all(connection=connection)) == 2, timeout=30, what="the standby")
        base = f"http://127.0.0.1:{port}"
        status, content = call(base, "POST", "/api/v1/wallets")
        wallet = json.loads(content)["id"]
        for i in range(50):
            assert keyed_call(base, wallet, {"operationType": "DEPOSIT", "amount": "1.00"}, f"s-{i}")[0] == 200
        counts = _job_counts(connection)
        assert sorted(counts.values()) == [0, 50]  # the standby applied nothing
        assert _serving(connection) == {"wallets.shard.00": 1}
        owner = next(p for p in (first, second) if counts[p.pid] == 50)
        standby = second if owner is first else first
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        killed_at = time.monotonic()
        answer = keyed_call(base, wallet, {"operationType": "DEPOSIT", "amount": "1.00"}, "after")
        status, _ = settle(base, wallet, {"operationType": "DEPOSIT", "amount": "1.00"}, "after", answer)
        assert status == 200
        assert time.monotonic() - killed_at < 10
        assert _job_counts(connection)[standby.pid] >= 1
        assert json.loads(call(base, "GET", f"/api/v1/wallets/{wallet}")[1]) == {
            "id": wallet,
            "currency": "EUR",
            "balance": "51.00",
            "available": "51.00",
            "held": "0.00",
            **Controls().to_json("EUR"),
            **NO_ANNOTATIONS,
        }
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc)
        server.stop()


def _job_counts(connection: redis.Redis) -> dict[int, int]:
    """Jobs done by each worker, by its pid (``wallets-<host>-<pid>-<token>``)."""
    return {int(w.name.rsplit("-", 2)[1]): w.successful_job_count for w in Worker.all(connection=connection)}


def _serving(connection: redis.Redis) -> dict[str, int]:
    """Queue name -> how many live workers list it among their queues."""
    serving: dict[str, int] = {}
    for worker in Worker.all(connection=connection):
        for name in worker.queue_names():
            serving[name] = serving.get(name, 0) + 1
    return serving


def test_idle_workers_notice_lost_sessions_and_every_shard_is_owned_again_within_10_s(stack: Stack, db: Engine) -> None:
    namespace = stack.env["LEASE_NAMESPACE"]
    wait_until(lambda: len(lease_holders(db, namespace)) == int(SHARDS), timeout=30, what="every shard leased")
    time.sleep(1)  # idle: no traffic wakes the workers
    old_sessions = set(lease_holders(db, namespace).values())
    assert terminate_backends(db, "wallet-worker") >= 2

    def owned_by_new_sessions() -> bool:
        holders = lease_holders(db, namespace)
        return len(holders) == int(SHARDS) and not old_sessions & set(holders.values())

    # A worker may notice within milliseconds (its next settle query), so only the end state is asserted.
    wait_until(owned_by_new_sessions, timeout=10, what="every shard leased again by a new session")
