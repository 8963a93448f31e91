"""Holds under load and under faults: real gunicorn, two shard workers on four shards, their
own redis-server; every request keyed.

Holds naming a ``to`` wallet on another shard are made first; then, from many clients at once,
each is captured (in part) while new holds, deposits and withdrawals go on, and a worker is
killed with ``kill -9`` a third of the way in: the worker of the captures' wallets right after
it committed a capture and before it enqueued the credit, or either worker mid-batch. After
everything settles every Idempotency-Key is replayed: every answer repeats byte for byte, every
capture's transfer ends ``completed``, every balance and every held amount is what the answers
say, and the ``db`` fixture audits the ledger, the conservation of money and the held money.
"""

from __future__ import annotations

import json
import os
import random
import signal
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from deploy.processes import wait_until
from tests.support.stack import (
    Keyed,
    Stack,
    armed_stack,
    call,
    keyed_load,
    keyed_post,
    one_ledger_row_per_key,
    pending_transfers,
    running_stack,
    wallets_create,
)

pytestmark = pytest.mark.fault

SHARDS = 4


def _shard(wallet: str) -> int:
    return uuid.UUID(wallet).int % SHARDS


def _other_shard(rng: random.Random, ids: list[str], wallet: str) -> str:
    return rng.choice([w for w in ids if _shard(w) != _shard(wallet)])


def run_capture_load(stack: Stack, engine: Engine, fault: Callable[[], None], *, seed: int) -> None:
    rng = random.Random(seed)
    ids = wallets_create(stack.base, 24, funds="100.00")
    # Holds to capture: on every wallet, to a wallet of another shard; made before the fault.
    holds: dict[str, tuple[str, str, Decimal]] = {}  # hold id: (wallet, to, amount)
    for i in range(120):
        wallet = ids[i % len(ids)]
        to = _other_shard(rng, ids, wallet)
        amount = Decimal(rng.randint(100, 500)) / 100
        body = {"amount": f"{amount}", "to": to}
        status, content = keyed_post(stack.base, f"/api/v1/wallets/{wallet}/holds", body, f"h0-{uuid.uuid4()}")
        assert status == 201, content
        holds[json.loads(content)["hold_id"]] = (wallet, to, amount)
    plan: list[Keyed] = []
    for hold_id, (_, _, amount) in holds.items():
        captured = Decimal(rng.randint(1, int(amount * 100))) / 100
        plan.append((f"/api/v1/holds/{hold_id}/capture", {"amount": f"{captured}"}, f"c-{uuid.uuid4()}"))
    for _ in range(80):
        wallet = rng.choice(ids)
        body = {"amount": f"{rng.randint(100, 800) / 100:.2f}", "to": _other_shard(rng, ids, wallet)}
        plan.append((f"/api/v1/wallets/{wallet}/holds", body, f"h-{uuid.uuid4()}"))
    for i in range(80):
        body = {"operationType": "DEPOSIT" if i % 2 else "WITHDRAW", "amount": f"{rng.randint(1, 3000) / 100:.2f}"}
        plan.append((f"/api/v1/wallets/{rng.choice(ids)}/operation", body, f"op-{uuid.uuid4()}"))
    rng.shuffle(plan)

    finals = keyed_load(stack.base, plan, fault, clients=24, decided=(200, 201, 400))

    # What the answers say each wallet has, and holds.
    balance = dict.fromkeys(ids, Decimal("100.00"))
    held = dict.fromkeys(ids, Decimal(0))
    for wallet, _, amount in holds.values():
        held[wallet] += amount
    for (path, body, _), (status, content) in zip(plan, finals, strict=True):
        answer = json.loads(content)
        if path.endswith("/capture"):
            assert status == 200, answer  # every hold is captured once, within its amount
            wallet, to, amount = holds[path.split("/")[4]]
            assert (answer["state"], answer["transfer_state"]) == ("captured", "completed")
            captured = Decimal(body["amount"])
            assert Decimal(answer["captured"]) + Decimal(answer["released"]) == amount
            balance[wallet] -= captured
            balance[to] += captured
            held[wallet] -= amount
        elif path.endswith("/holds"):
            if status == 201:
                held[path.split("/")[4]] += Decimal(body["amount"])
            else:
                assert answer == {"error": "Insufficient funds", "code": "insufficient_funds"}
        elif status == 200:
            wallet = path.split("/")[4]
            balance[wallet] += Decimal(body["amount"]) * (1 if body["operationType"] == "DEPOSIT" else -1)
    wait_until(lambda: pending_transfers(engine) == 0, timeout=30, what="every capture's transfer completed")
    one_ledger_row_per_key(engine, [key for _, _, key in plan])
    for wallet in ids:
        status, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
        money = json.loads(content)
        assert (Decimal(money["balance"]), Decimal(money["held"])) == (balance[wallet], held[wallet]), wallet
        assert Decimal(money["available"]) >= 0


def test_the_captures_worker_killed_after_its_commit_before_the_credit_is_enqueued(
    database: Engine, db: Engine
) -> None:
    with armed_stack("after-transfer-debit", SHARD_COUNT=str(SHARDS), REPLY_TIMEOUT="2") as (stack, replace_armed):
        run_capture_load(stack, db, replace_armed, seed=11)


@pytest.mark.parametrize("victim", [0, 1])
def test_either_worker_killed_mid_batch(database: Engine, db: Engine, victim: int) -> None:
    with running_stack(SHARD_COUNT=str(SHARDS), REPLY_TIMEOUT="2") as stack:

        def kill() -> None:
            os.kill(stack.workers[victim].pid, signal.SIGKILL)
            stack.workers[victim].wait()

        run_capture_load(stack, db, kill, seed=12 + victim)
