"""An answer about money is never wrong, whatever Redis does (issue: never lie about an outcome).

Against real gunicorn, shard workers, PostgreSQL and a redis-server of the test's own:
restarted while requests wait for their replies, frozen with SIGSTOP, restarted without
persistence. A 503 is only ever answered for an operation that was not queued; a 202 names an
operation that ends up applied; a status URL never 404s.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine, func, select

from deploy.processes import wait_until
from shared import keys
from shared.tables import wallet_operations
from tests.support.stack import Stack, call, running_stack, wallets_create

pytestmark = pytest.mark.fault

DEPOSIT = {"operationType": "DEPOSIT", "amount": "1.00"}


def ledger_count(engine: Engine, wallets: list[str]) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(wallet_operations).where(wallet_operations.c.wallet_id.in_(wallets))
        return int(conn.execute(query).scalar_one())


def status_of(stack: Stack, operation_id: str) -> str:
    status, content = call(stack.base, "GET", f"/api/v1/operations/{operation_id}")
    assert status == 200, (operation_id, status, content)  # never 404
    return str(json.loads(content)["status"])


def assert_answers_true(stack: Stack, engine: Engine, wallets: list[str], answers: list[tuple[int, bytes]]) -> None:
    """Every 200 and 202 is in the ledger once (a 202 once settled), and nothing else is."""
    assert {status for status, _ in answers} <= {200, 202, 503}, answers
    pending = [json.loads(body)["operation_id"] for status, body in answers if status == 202]
    for operation_id in pending:

        def applied(operation_id: str = operation_id) -> bool:
            return status_of(stack, operation_id) == "applied"

        wait_until(applied, timeout=40, what=f"{operation_id} applied")
    accepted = sum(1 for status, _ in answers if status in (200, 202))
    assert ledger_count(engine, wallets) == accepted
    total = Decimal(0)
    for wallet in wallets:
        _, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
        total += Decimal(json.loads(content)["balance"])
    assert total == accepted * Decimal("1.00")


def test_redis_restart_while_requests_wait_answers_202_not_503(database: Engine, db: Engine) -> None:
    with running_stack(workers=0, SHARD_COUNT="4", REPLY_TIMEOUT="8") as stack:
        wallets = wallets_create(stack.base, 4)
        with ThreadPoolExecutor(40) as pool:
            waiting = [
                pool.submit(call, stack.base, "POST", f"/api/v1/wallets/{wallets[i % 4]}/operation", DEPOSIT)
                for i in range(40)
            ]
            server = redis.Redis(port=stack.redis.port)
            wait_until(  # every request is queued, and so waits for its answer (no worker runs)
                lambda: sum(int(server.llen(keys.queue_key(shard))) for shard in range(4)) >= len(waiting),
                timeout=10,
                what="every request queued",
            )
            server.close()
            stack.redis.stop()
            time.sleep(1)
            stack.redis.start()  # AOF on: the queued jobs survive
            answers = [future.result() for future in waiting]
        assert [status for status, _ in answers] == [202] * 40
        stack.add_worker()
        assert_answers_true(stack, db, wallets, answers)


def test_redis_frozen_answers_202_or_a_true_503(database: Engine, db: Engine) -> None:
    with running_stack(workers=2, SHARD_COUNT="4", REPLY_TIMEOUT="2") as stack:
        wallets = wallets_create(stack.base, 4)
        answers: list[tuple[int, bytes]] = []
        stop = threading.Event()

        def client(i: int) -> None:
            while not stop.is_set():
                answers.append(call(stack.base, "POST", f"/api/v1/wallets/{wallets[i % 4]}/operation", DEPOSIT))

        with ThreadPoolExecutor(16) as pool:
            for i in range(16):
                pool.submit(client, i)
            time.sleep(1)
            stack.redis.freeze(13)
            time.sleep(2)
            stop.set()
        assert any(status == 202 for status, _ in answers)
        assert_answers_true(stack, db, wallets, answers)


def test_a_202_survives_a_redis_restart_without_persistence(database: Engine, db: Engine) -> None:
    with running_stack(workers=0, persistent=False, SHARD_COUNT="4", REPLY_TIMEOUT="0.5") as stack:
        wallets = wallets_create(stack.base, 4)
        answers = [call(stack.base, "POST", f"/api/v1/wallets/{wallets[i % 4]}/operation", DEPOSIT) for i in range(20)]
        assert [status for status, _ in answers] == [202] * 20
        stack.redis.stop()
        stack.redis.start()  # every queued job is gone
        for _, body in answers:
            assert status_of(stack, json.loads(body)["operation_id"]) == "pending"
        stack.add_worker()
        assert_answers_true(stack, db, wallets, answers)
