"""A freeze sent while the wallet's queue is full of withdrawals: real gunicorn, a shard worker
and their own redis-server. The withdrawals queued before the freeze are decided before it, in
order; none applied after the freeze's position in the ledger, although every one of them was
sent before the freeze was applied; credits still land. Every request is keyed and replayed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from deploy.processes import wait_until
from tests.support.stack import call, keyed_call, keyed_post, running_stack, settle, wallets_create

pytestmark = pytest.mark.fault

QUEUED = 500
AFTER = 20


def test_a_freeze_sent_behind_500_queued_withdrawals_stops_every_debit_after_it(db: Engine) -> None:
    # The web answers 202 at once: nothing is decided until a worker starts again.
    with running_stack(workers=1, REPLY_TIMEOUT="0.01") as stack:
        base = stack.base
        [wallet] = wallets_create(base, 1)
        funding = ({"operationType": "DEPOSIT", "amount": "1000.00"}, f"fund-{wallet}")
        assert settle(base, wallet, *funding, keyed_call(base, wallet, *funding))[0] == 200
        stack.stop_workers()
        withdraw = {"operationType": "WITHDRAW", "amount": "1.00"}
        deposit = {"operationType": "DEPOSIT", "amount": "2.00"}
        queued = [(withdraw, f"queued-{wallet}-{i}") for i in range(QUEUED)]
        with ThreadPoolExecutor(25) as pool:
            firsts = list(pool.map(lambda item: keyed_call(base, wallet, *item), queued))
        assert {status for status, _ in firsts} == {202}
        freeze_path, freeze_body, freeze_key = f"/api/v1/wallets/{wallet}", {"status": "frozen"}, f"freeze-{wallet}"
        freeze_first = keyed_post(base, freeze_path, freeze_body, freeze_key, "PATCH")
        assert freeze_first[0] == 202
        # The wallet right after the freeze, as its answer shows it whenever it is replayed.
        after_freeze = {"balance": "500.00", "available": "500.00", "held": "0.00", "status": "frozen"}
        later = [(withdraw if i % 2 else deposit, f"later-{wallet}-{i}") for i in range(2 * AFTER)]
        later_firsts = [keyed_call(base, wallet, *item) for item in later]
        assert {status for status, _ in later_firsts} == {202}

        stack.add_worker()
        freeze_id = json.loads(freeze_first[1])["operation_id"]
        wait_until(
            lambda: json.loads(call(base, "GET", f"/api/v1/operations/{freeze_id}")[1])["status"] != "pending",
            timeout=60,
            what="the freeze applied",
        )
        wait_until(lambda: _ledger_rows(db, wallet) == 2 + QUEUED + 2 * AFTER, timeout=90, what="all decided")
        with ThreadPoolExecutor(25) as pool:  # each key answers from the ledger now
            finals = list(pool.map(lambda item: keyed_call(base, wallet, *item), queued))
            later_finals = list(pool.map(lambda item: keyed_call(base, wallet, *item), later))
        assert {status for status, _ in finals} == {200}  # all decided before the freeze, and paid
        assert [json.loads(body).get("error") for _, body in later_finals] == [
            None if i % 2 == 0 else "Wallet is frozen" for i in range(2 * AFTER)
        ]
        # The freeze, replayed under its key, is the wallet right after it (later deposits aside).
        frozen = keyed_post(base, freeze_path, freeze_body, freeze_key, "PATCH")
        assert frozen[0] == 200
        assert {k: json.loads(frozen[1])[k] for k in after_freeze} == after_freeze
        assert keyed_post(base, freeze_path, freeze_body, freeze_key, "PATCH") == frozen
        # Every key replays its final answer byte for byte.
        with ThreadPoolExecutor(25) as pool:
            assert list(pool.map(lambda item: keyed_call(base, wallet, *item), [*queued, *later])) == [
                *finals,
                *later_finals,
            ]

    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT operation_type, status, seq FROM wallet_operations WHERE wallet_id = :w ORDER BY seq"),
            {"w": wallet},
        ).all()
    [freeze_seq] = [row.seq for row in rows if row.operation_type == "WALLET_UPDATE"]
    debits_after = [row for row in rows if row.seq > freeze_seq and row.operation_type == "WITHDRAW"]
    assert len(debits_after) == AFTER
    assert {row.status for row in debits_after} == {"rejected"}
    before = [row.status for row in rows if row.seq < freeze_seq and row.operation_type == "WITHDRAW"]
    assert before == ["applied"] * QUEUED


def _ledger_rows(db: Engine, wallet: str) -> int:
    with db.connect() as conn:
        count: int = conn.execute(
            text("SELECT count(*) FROM wallet_operations WHERE wallet_id = :w"), {"w": wallet}
        ).scalar_one()
    return count
