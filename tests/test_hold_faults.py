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
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from tests.processes import start_worker, wait_until
from tests.stack import Stack, call, keyed_post, running_stack, settle_post

pytestmark = pytest.mark.fault

SHARDS = 4
Item = tuple[str, dict[str, str], str]
"""(path, body, Idempotency-Key)"""


def _shard(wallet: str) -> int:
    return uuid.UUID(wallet).int % SHARDS


def _funded_wallets(stack: Stack, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        status, content = call(stack.base, "POST", "/api/v1/wallets")
        assert status == 201
        wallet = json.loads(content)["id"]
        funding = {"operationType": "DEPOSIT", "amount": "100.00"}
        assert keyed_post(stack.base, f"/api/v1/wallets/{wallet}/operation", funding, f"fund-{wallet}")[0] == 200
        ids.append(wallet)
    return ids


def _other_shard(rng: random.Random, ids: list[str], wallet: str) -> str:
    return rng.choice([w for w in ids if _shard(w) != _shard(wallet)])


def run_capture_load(stack: Stack, engine: Engine, fault: Callable[[], None], *, seed: int) -> None:
    rng = random.Random(seed)
    ids = _funded_wallets(stack, 24)
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
    plan: list[Item] = []
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

    done = [0]
    trigger = threading.Event()

    def send(item: Item) -> tuple[int, bytes]:
        answer = keyed_post(stack.base, *item)
        done[0] += 1
        if done[0] == len(plan) // 3:
            trigger.set()
        return answer

    def inject() -> None:
        trigger.wait(120)
        fault()

    faulter = threading.Thread(target=inject)
    faulter.start()
    with ThreadPoolExecutor(24) as pool:
        firsts = list(pool.map(send, plan))
    faulter.join()
    assert trigger.is_set(), "the fault was never injected"
    with ThreadPoolExecutor(24) as pool:
        finals = list(
            pool.map(lambda item, first: settle_post(stack.base, item[0], item[1], item[2], first), plan, firsts)
        )
    unsettled = [(item, answer) for item, answer in zip(plan, finals, strict=True) if answer[0] not in (200, 201, 400)]
    assert not unsettled, unsettled[:3]
    with ThreadPoolExecutor(24) as pool:
        replays = list(pool.map(lambda item: keyed_post(stack.base, *item), plan))
    assert replays == finals
    for first, final in zip(firsts, finals, strict=True):
        if first[0] in (200, 201, 400):
            assert first == final

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
                assert answer == {"error": "Insufficient funds"}
        elif status == 200:
            wallet = path.split("/")[4]
            balance[wallet] += Decimal(body["amount"]) * (1 if body["operationType"] == "DEPOSIT" else -1)
    wait_until(lambda: _pending_transfers(engine) == 0, timeout=30, what="every capture's transfer completed")
    with engine.connect() as conn:
        keyed: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT idempotency_key, count(*) FROM wallet_operations"
                    " WHERE idempotency_key = ANY(:keys) GROUP BY idempotency_key"
                ),
                {"keys": [key for _, _, key in plan]},
            ).all()
        )
    assert len(keyed) == len(plan)
    assert set(keyed.values()) == {1}
    for wallet in ids:
        status, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
        money = json.loads(content)
        assert (Decimal(money["balance"]), Decimal(money["held"])) == (balance[wallet], held[wallet]), wallet
        assert Decimal(money["available"]) >= 0


def _pending_transfers(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM transfers WHERE state = 'pending'")).scalar_one())


def test_the_captures_worker_killed_after_its_commit_before_the_credit_is_enqueued(
    database: Engine, db: Engine
) -> None:
    with running_stack(workers=1, SHARD_COUNT=str(SHARDS), REPLY_TIMEOUT="2") as stack:
        armed = start_worker(**stack.env, FAULT_POINT="after-transfer-debit")
        stack.workers.append(armed)

        def replace_armed() -> None:
            wait_until(lambda: armed.poll() is not None, timeout=60, what="the armed worker's fault point")
            assert armed.returncode == -signal.SIGKILL
            stack.add_worker()

        run_capture_load(stack, db, replace_armed, seed=11)


@pytest.mark.parametrize("victim", [0, 1])
def test_either_worker_killed_mid_batch(database: Engine, db: Engine, victim: int) -> None:
    with running_stack(SHARD_COUNT=str(SHARDS), REPLY_TIMEOUT="2") as stack:

        def kill() -> None:
            os.kill(stack.workers[victim].pid, signal.SIGKILL)
            stack.workers[victim].wait()

        run_capture_load(stack, db, kill, seed=12 + victim)
