"""Transfers under load and under faults: real gunicorn, two shard workers on four shards,
their own redis-server; every request keyed.

Each test sends transfers among a few dozen wallets mixed with deposits and withdrawals, from
many clients at once, injects its fault a third of the way in, lets everything settle, then
replays every Idempotency-Key: every answer repeats byte for byte, every transfer ends
``completed`` or ``failed`` and no transfer stays ``pending``, every balance is what the 200s
say, and the ``db`` fixture audits the ledger and the conservation of money.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from deploy.processes import wait_until
from tests.support.databases import terminate_backends
from tests.support.stack import (
    Keyed,
    Stack,
    armed_stack,
    call,
    keyed_load,
    one_ledger_row_per_key,
    pending_transfers,
    running_stack,
    wallets_create,
)

pytestmark = pytest.mark.fault

SHARDS = "4"
TRANSFERS = "/api/v1/transfers"


@pytest.fixture
def stack(database: Engine) -> Iterator[Stack]:
    with running_stack(SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2") as stack:
        yield stack


def plan_load(
    stack: Stack, *, wallets: int, transfers: int, operations: int, seed: int
) -> tuple[list[str], list[Keyed]]:
    """Funded wallets, and a shuffled plan of keyed transfers, deposits and withdrawals."""
    rng = random.Random(seed)
    ids = wallets_create(stack.base, wallets, funds="100.00")
    plan: list[Keyed] = []
    for _ in range(transfers):
        source, destination = rng.sample(ids, 2)
        body = {"from": source, "to": destination, "amount": f"{rng.randint(1, 4000) / 100:.2f}"}
        plan.append((TRANSFERS, body, f"t-{uuid.uuid4()}"))
    for i in range(operations):
        body = {"operationType": "DEPOSIT" if i % 2 else "WITHDRAW", "amount": f"{rng.randint(1, 3000) / 100:.2f}"}
        plan.append((f"/api/v1/wallets/{rng.choice(ids)}/operation", body, f"op-{uuid.uuid4()}"))
    rng.shuffle(plan)
    return ids, plan


def run_transfer_load(
    stack: Stack,
    engine: Engine,
    fault: Callable[[], None] | None,
    *,
    wallets: int = 24,
    transfers: int = 400,
    operations: int = 150,
    clients: int = 24,
    seed: int = 0,
) -> None:
    ids, plan = plan_load(stack, wallets=wallets, transfers=transfers, operations=operations, seed=seed)
    finals = keyed_load(stack.base, plan, fault, clients=clients, decided=(200, 400))
    # Every transfer is decided: none stays pending once the queues are empty.
    wait_until(lambda: pending_transfers(engine) == 0, timeout=30, what="every transfer completed or failed")
    expected = dict.fromkeys(ids, Decimal("100.00"))
    transfer_ids = []
    for (path, body, _), (status, content) in zip(plan, finals, strict=True):
        if status != 200:
            continue
        amount = Decimal(body["amount"])
        if path == TRANSFERS:
            assert json.loads(content)["state"] == "completed"
            transfer_ids.append(json.loads(content)["transfer_id"])
            expected[body["from"]] -= amount
            expected[body["to"]] += amount
        else:
            wallet = path.split("/")[4]
            expected[wallet] += amount if body["operationType"] == "DEPOSIT" else -amount
    assert len(transfer_ids) == len(set(transfer_ids))
    one_ledger_row_per_key(engine, [key for _, _, key in plan])
    with engine.connect() as conn:
        states: dict[str, int] = dict(conn.execute(text("SELECT state, count(*) FROM transfers GROUP BY state")).all())
        assert set(states) <= {"completed", "failed"}
    for wallet in ids:
        status, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
        assert status == 200, content
        balance = Decimal(json.loads(content)["balance"])
        assert balance == expected[wallet]
        assert balance >= 0


def test_500_transfers_among_50_wallets_from_32_clients(stack: Stack, db: Engine) -> None:
    run_transfer_load(stack, db, None, wallets=50, transfers=500, operations=250, clients=32)


def test_source_worker_killed_after_its_debit_commit_before_the_credit_is_enqueued(
    database: Engine, db: Engine
) -> None:
    # The second worker is armed: it dies (SIGKILL) right after the first batch whose debits
    # need a credit on another shard has committed, before that credit is enqueued.
    with armed_stack("after-transfer-debit", SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2") as (stack, replace_armed):
        run_transfer_load(stack, db, replace_armed, seed=1)


def test_a_worker_killed_mid_batch(stack: Stack, db: Engine) -> None:
    def kill() -> None:
        os.kill(stack.workers[0].pid, signal.SIGKILL)
        stack.workers[0].wait()

    run_transfer_load(stack, db, kill, seed=2)


def test_redis_restarted_between_legs_losing_everything(database: Engine, db: Engine) -> None:
    # No persistence: the queued credits, the replies and the Idempotency-Key records are lost.
    with running_stack(SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2", persistent=False) as stack:

        def restart() -> None:
            stack.redis.stop()
            time.sleep(1)
            stack.redis.start()

        run_transfer_load(stack, db, restart, seed=3)


def test_postgres_connections_of_the_workers_killed(stack: Stack, db: Engine) -> None:
    def terminate() -> None:
        assert terminate_backends(db, "wallet-worker") >= 2

    run_transfer_load(stack, db, terminate, seed=4)
