"""Transfer reversals under load and under ``kill -9`` of either worker: real gunicorn, two shard
workers on four shards, their own redis-server; every request keyed.

Completed transfers are reversed from many clients at once, each in parts and "all that is
left" (no amount) in a random order, while a worker dies a third of the way in: the worker of
the reversals' debits (armed to die right after such a debit's commit, before its credit is
enqueued), or any worker mid-batch. Then every Idempotency-Key replays byte for byte, each
names one ledger row, no transfer stays pending, every transfer's reversals add up to what its
status shows and never to more than it, every balance is what the answers say, and the ``db``
fixture audits the ledger.
"""

from __future__ import annotations

import json
import os
import random
import signal
import uuid
from collections import defaultdict
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
    one_ledger_row_per_key,
    pending_transfers,
    running_stack,
    wallets_create,
)

pytestmark = pytest.mark.fault

SHARDS = "4"
TRANSFERS = "/api/v1/transfers"


def read(stack: Stack, path: str) -> dict[str, object]:
    status, content = call(stack.base, "GET", path)
    assert status == 200, content
    body: dict[str, object] = json.loads(content)
    return body


Originals = tuple[list[str], list[Keyed], dict[str, dict[str, str]]]
"""The wallets, the keyed transfers sent, and those completed by id."""


def transfers_made(stack: Stack, rng: random.Random) -> Originals:
    """Completed transfers among 16 wallets, made before any fault (and any armed worker)."""
    ids = wallets_create(stack.base, 16, funds="100.00")
    originals: list[Keyed] = []
    for _ in range(60):
        source, destination = rng.sample(ids, 2)
        originals.append(
            (TRANSFERS, {"from": source, "to": destination, "amount": f"{rng.randint(5, 20)}.00"}, f"t-{uuid.uuid4()}")
        )
    made = keyed_load(stack.base, originals, None, clients=8, decided=(200, 400))
    completed = {
        json.loads(content)["transfer_id"]: body
        for (_, body, _), (status, content) in zip(originals, made, strict=True)
        if status == 200
    }
    assert len(completed) > 40
    return ids, originals, completed


def run_reversal_load(stack: Stack, engine: Engine, fault: Callable[[], None], made: Originals, *, seed: int) -> None:
    rng = random.Random(seed)
    ids, originals, completed = made
    # Each transfer: two parts of 40% and the rest, in a random order among all the others.
    plan: list[Keyed] = []
    for transfer_id, body in completed.items():
        part = f"{Decimal(body['amount']) * Decimal('0.4'):.2f}"
        for reversal in ({"amount": part}, {"amount": part}, {}):
            plan.append((f"{TRANSFERS}/{transfer_id}/reversal", reversal, f"r-{uuid.uuid4()}"))
    rng.shuffle(plan)
    finals = keyed_load(stack.base, plan, fault, clients=16, decided=(200, 400))
    wait_until(lambda: pending_transfers(engine) == 0, timeout=30, what="every reversal completed or failed")
    one_ledger_row_per_key(engine, [key for _, _, key in [*originals, *plan]])
    expected = dict.fromkeys(ids, Decimal("100.00"))
    for body in completed.values():
        expected[body["from"]] -= Decimal(body["amount"])
        expected[body["to"]] += Decimal(body["amount"])
    reversed_of: dict[str, Decimal] = defaultdict(Decimal)
    for (path, _, _), (status, content) in zip(plan, finals, strict=True):
        original = path.split("/")[4]
        if status != 200:
            assert json.loads(content)["code"] in ("reversal_exceeds_original", "insufficient_funds"), content
            continue
        record = read(stack, f"{TRANSFERS}/{json.loads(content)['transfer_id']}")
        assert (record["state"], record["reversal_of"]) == ("completed", original)
        amount = Decimal(str(record["amount"]))
        reversed_of[original] += amount
        expected[completed[original]["to"]] -= amount
        expected[completed[original]["from"]] += amount
    for transfer_id, body in completed.items():
        shown = Decimal(str(read(stack, f"{TRANSFERS}/{transfer_id}")["reversed_amount"]))
        assert shown == reversed_of[transfer_id] <= Decimal(body["amount"])
    assert sum(1 for shown in reversed_of.values() if shown) > len(completed) // 2  # most were reversed
    for wallet in ids:
        assert Decimal(str(read(stack, f"/api/v1/wallets/{wallet}")["balance"])) == expected[wallet]


def test_the_worker_of_reversal_debits_killed_after_its_commit_before_the_credit_is_enqueued(
    database: Engine, db: Engine
) -> None:
    with running_stack(SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2") as stack:
        made = transfers_made(stack, random.Random(11))
    # The armed worker dies right after the first batch whose debits (the reversals') need a
    # credit on another shard has committed, before that credit is enqueued.
    with armed_stack("after-transfer-debit", SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2") as (stack, replace_armed):
        run_reversal_load(stack, db, replace_armed, made, seed=11)


def test_a_worker_killed_mid_batch_during_reversals(database: Engine, db: Engine) -> None:
    # Each worker holds two of the four shards: the one killed decides debits and credits alike.
    with running_stack(SHARD_COUNT=SHARDS, REPLY_TIMEOUT="2") as stack:
        made = transfers_made(stack, random.Random(12))

        def kill() -> None:
            os.kill(stack.workers[1].pid, signal.SIGKILL)
            stack.workers[1].wait()

        run_reversal_load(stack, db, kill, made, seed=12)
