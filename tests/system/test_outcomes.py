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

import pytest
import redis
from sqlalchemy import Engine

from deploy.processes import wait_until
from shared import keys
from tests.support.stack import PROBE_DEPOSIT, answers_true, call, running_stack, status_of, wallets_create

pytestmark = pytest.mark.fault


def test_redis_restart_while_requests_wait_answers_202_not_503(database: Engine, db: Engine) -> None:
    with running_stack(workers=0, SHARD_COUNT="4", REPLY_TIMEOUT="8") as stack:
        wallets = wallets_create(stack.base, 4)
        with ThreadPoolExecutor(40) as pool:
            waiting = [
                pool.submit(call, stack.base, "POST", f"/api/v1/wallets/{wallets[i % 4]}/operation", PROBE_DEPOSIT)
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
        answers_true(stack, db, wallets, answers)


def test_redis_frozen_answers_202_or_a_true_503(database: Engine, db: Engine) -> None:
    with running_stack(workers=2, SHARD_COUNT="4", REPLY_TIMEOUT="2") as stack:
        wallets = wallets_create(stack.base, 4)
        answers: list[tuple[int, bytes]] = []
        stop = threading.Event()

        def client(i: int) -> None:
            while not stop.is_set():
                answers.append(call(stack.base, "POST", f"/api/v1/wallets/{wallets[i % 4]}/operation", PROBE_DEPOSIT))

        with ThreadPoolExecutor(16) as pool:
            for i in range(16):
                pool.submit(client, i)
            time.sleep(1)
            stack.redis.freeze(13)
            time.sleep(2)
            stop.set()
        assert any(status == 202 for status, _ in answers)
        answers_true(stack, db, wallets, answers)


def test_a_202_survives_a_redis_restart_without_persistence(database: Engine, db: Engine) -> None:
    with running_stack(workers=0, persistent=False, SHARD_COUNT="4", REPLY_TIMEOUT="0.5") as stack:
        wallets = wallets_create(stack.base, 4)
        answers = [
            call(stack.base, "POST", f"/api/v1/wallets/{wallets[i % 4]}/operation", PROBE_DEPOSIT) for i in range(20)
        ]
        assert [status for status, _ in answers] == [202] * 20
        stack.redis.stop()
        stack.redis.start()  # every queued job is gone
        for _, body in answers:
            assert status_of(stack, json.loads(body)["operation_id"]) == "pending"
        stack.add_worker()
        answers_true(stack, db, wallets, answers)
