"""Bulk requests under faults: real processes, a worker killed with SIGKILL or Redis restarted while
bulk requests are in flight; then every bulk request is sent again with its keys until nothing
is pending. Every operation is in the ledger exactly once, each wallet's in its request's order,
and every balance is what the answers say (the ``db`` fixture audits the ledger)."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.support.http_client import call
from tests.support.stack import Stack, one_ledger_row_per_key, running_stack, wallets_create

pytestmark = pytest.mark.fault

BULKS, SIZE = 24, 100


def bulk_post(stack: Stack, operations: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The results of a bulk request, retried as a careful client does while the service is out
    (a 503 queued nothing; a connection lost may have: the keys make a retry safe)."""
    deadline = time.monotonic() + 60
    while True:
        status, content = call(stack.base, "POST", "/api/v1/operations/bulk", {"operations": operations})
        if status == 200:
            results: list[dict[str, Any]] = json.loads(content)["results"]
            return results
        assert status in (0, 503), (status, content[:300])
        assert time.monotonic() < deadline, "the service did not come back"
        time.sleep(0.1)


def kill_a_worker(stack: Stack) -> None:
    os.kill(stack.workers[0].pid, signal.SIGKILL)
    stack.workers[0].wait()


def restart_redis(stack: Stack) -> None:
    stack.redis.stop()
    time.sleep(1)
    stack.redis.start()


@pytest.mark.parametrize("fault", [kill_a_worker, restart_redis], ids=["worker-killed", "redis-restarted"])
def test_every_operation_of_every_bulk_is_applied_once_in_order(
    database: Engine, db: Engine, fault: Callable[[Stack], None]
) -> None:
    with running_stack(SHARD_COUNT="16", REPLY_TIMEOUT="2") as stack:
        wallets = wallets_create(stack.base, 24, funds="50.00")
        rng = random.Random(2027)
        run = uuid.uuid4().hex[:8]  # keys of this test's own: the database outlives it
        bulks = [
            [
                {
                    "wallet_id": rng.choice(wallets),
                    "operationType": rng.choice(["DEPOSIT", "WITHDRAW"]),
                    "amount": f"{rng.randint(1, 2000) / 100:.2f}",
                    "idempotency_key": f"bulk-{run}-{b}-{i}",
                }
                for i in range(SIZE)
            ]
            for b in range(BULKS)
        ]
        answered = [0]
        trigger = threading.Event()

        def send(operations: list[dict[str, str]]) -> list[dict[str, Any]]:
            results = bulk_post(stack, operations)
            answered[0] += 1
            if answered[0] == BULKS // 4:
                trigger.set()
            return results

        def inject() -> None:
            assert trigger.wait(120), "no bulk request was answered"
            fault(stack)

        faulter = threading.Thread(target=inject)
        faulter.start()
        with ThreadPoolExecutor(4) as pool:
            firsts = list(pool.map(send, bulks))
        faulter.join()
        assert trigger.is_set()
        # Send every bulk again, with its keys, until no operation of it is pending.
        finals = []
        for operations in bulks:
            deadline = time.monotonic() + 60
            results = bulk_post(stack, operations)
            while any(r["status"] == "Pending" for r in results):
                assert time.monotonic() < deadline, [r for r in results if r["status"] == "Pending"][:3]
                time.sleep(0.2)
                results = bulk_post(stack, operations)
            finals.append(results)
        # Sent again, every operation replays its final answer, and a first answer that was
        # decided is that final answer. (A final answer need not be a replay itself: an
        # operation whose key's record Redis lost is queued again, and either attempt may be
        # the one applied, the other answered from its ledger row.)
        replays = [bulk_post(stack, operations) for operations in bulks]
        for first, final, replay in zip(firsts, finals, replays, strict=True):
            assert replay == [{**r, "replayed": True} for r in final]
            for f, r in zip(first, replay, strict=True):
                if f["status"] != "Pending":
                    assert {**f, "replayed": True} == r
        keys = [op["idempotency_key"] for operations in bulks for op in operations]
        one_ledger_row_per_key(db, keys)
        with db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT idempotency_key, id::text, status, seq FROM wallet_operations"
                    " WHERE idempotency_key = ANY(:keys)"
                ),
                {"keys": keys},
            ).all()
        ledger = {key: (operation_id, status, seq) for key, operation_id, status, seq in rows}
        expected = dict.fromkeys(wallets, Decimal("50.00"))
        for operations, final in zip(bulks, finals, strict=True):
            last_seq: dict[str, int] = {}
            for op, result in zip(operations, final, strict=True):
                operation_id, status, seq = ledger[op["idempotency_key"]]
                assert result["operation_id"] == operation_id
                assert (result["status"], status) in (("Success", "applied"), ("Rejected", "rejected"))
                if status == "applied":
                    sign = 1 if op["operationType"] == "DEPOSIT" else -1
                    expected[op["wallet_id"]] += sign * Decimal(op["amount"])
                # A wallet's operations of one request are applied in the request's order.
                assert seq > last_seq.get(op["wallet_id"], 0)
                last_seq[op["wallet_id"]] = seq
        for wallet in wallets:
            status, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
            assert status == 200
            assert Decimal(json.loads(content)["balance"]) == expected[wallet]
        assert any(r["status"] == "Rejected" for final in finals for r in final)  # some ran out of money
