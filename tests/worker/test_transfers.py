"""Transfers in the shard worker (``worker.transfers``): one transaction within a shard, two
legs across shards, a refund when the destination refuses, and the sweep that redoes what a
crash left undone. In-process workers on real PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, delete, select, update

from shared import keys
from shared.messages import OperationRequest
from shared.money import MAX_BALANCE
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.tables import transfers, wallet_operations
from shared.transfers import TransferState, credit_id, credit_of, refund_id, refund_of
from tests.support.factories import operation, transfer_debit
from tests.support.workers import Rig
from worker import chores, jobs
from worker.apply import operation_refuse
from worker.transfers import transfers_due

debit = transfer_debit


def state(db: Engine, transfer_id: uuid.UUID) -> tuple[str, str | None]:
    with db.connect() as conn:
        row = conn.execute(select(transfers.c.state, transfers.c.error).where(transfers.c.id == transfer_id)).one()
    return row.state, row.error


def legs(db: Engine, transfer_id: uuid.UUID) -> dict[str, tuple[uuid.UUID, str]]:
    """The transfer's ledger rows: type -> (wallet, status)."""
    with db.connect() as conn:
        rows = conn.execute(
            select(wallet_operations.c.operation_type, wallet_operations.c.wallet_id, wallet_operations.c.status).where(
                wallet_operations.c.transfer_id == transfer_id
            )
        ).all()
    assert len(rows) == len({row.operation_type for row in rows}), "a leg is in the ledger twice"
    return {row.operation_type: (row.wallet_id, row.status) for row in rows}


def sweep(rig: Rig, shards: list[int] | None = None) -> int:
    """One sweep of pending transfers by a new worker (leasing ``shards``); how many legs it redid."""
    worker = rig.worker(shards=shards)
    worker.bootstrap()
    try:
        return chores.transfers_sweep(worker)
    finally:
        worker.teardown()


def test_within_one_shard_both_legs_apply_in_one_transaction(rig: Rig) -> None:
    source, destination = rig.wallet_on(3, "10.00"), rig.wallet_on(3)
    request = debit(source, destination, "4.00")
    rig.enqueue(request)
    rig.worker().work(burst=True)
    assert rig.reply(request).balance_after == Decimal("6.00")
    credit = rig.reply(dataclasses.replace(request, operation_id=credit_id(request.operation_id)))
    assert (credit.status, credit.balance_after) == (OperationStatus.APPLIED, Decimal("4.00"))
    assert state(rig.db, request.operation_id) == (TransferState.COMPLETED, None)
    assert legs(rig.db, request.operation_id) == {
        "TRANSFER_OUT": (source, "applied"),
        "TRANSFER_IN": (destination, "applied"),
    }
    with rig.db.connect() as conn:  # the two rows were committed together, next to each other
        seqs = conn.execute(
            select(wallet_operations.c.seq).where(wallet_operations.c.transfer_id == request.operation_id)
        ).scalars()
        first, second = sorted(seqs)
    assert second == first + 1
    assert rig.redis.llen(keys.queue_key(3)) == 0


def test_across_shards_the_credit_goes_through_the_destination_queue(rig: Rig) -> None:
    source, destination = rig.wallet_on(1, "10.00"), rig.wallet_on(2, "1.00")
    request = debit(source, destination, "2.50")
    rig.enqueue(request)
    rig.worker(shards=[1]).work(burst=True)  # the source's worker only
    assert state(rig.db, request.operation_id) == (TransferState.PENDING, None)
    assert rig.redis.lrange(keys.queue_key(2), 0, -1) == [str(credit_id(request.operation_id)).encode()]
    rig.worker(shards=[2]).work(burst=True)
    assert state(rig.db, request.operation_id) == (TransferState.COMPLETED, None)
    assert (rig.balance(source), rig.balance(destination)) == (Decimal("7.50"), Decimal("3.50"))
    with rig.db.connect() as conn:
        credit = conn.execute(
            select(wallet_operations).where(wallet_operations.c.id == credit_id(request.operation_id))
        ).one()
    assert (credit.operation_type, credit.counterparty_id, credit.transfer_id) == (
        "TRANSFER_IN",
        source,
        request.operation_id,
    )


def test_a_debit_the_source_cannot_pay_moves_nothing(rig: Rig) -> None:
    source, destination = rig.wallet_on(1, "1.00"), rig.wallet_on(2)
    request = debit(source, destination, "1.01")
    rig.enqueue(request)
    rig.worker().work(burst=True)
    assert rig.reply(request).error == Rejection.INSUFFICIENT_FUNDS.value
    assert state(rig.db, request.operation_id) == (TransferState.FAILED, Rejection.INSUFFICIENT_FUNDS.value)
    assert legs(rig.db, request.operation_id) == {"TRANSFER_OUT": (source, "rejected")}
    assert rig.redis.llen(keys.queue_key(2)) == 0


@pytest.mark.parametrize("same_shard", [False, True])
def test_a_credit_over_the_destination_limit_fails_the_transfer_and_returns_the_money_once(
    rig: Rig, same_shard: bool
) -> None:
    # Within one shard the three legs are decided in one transaction, the same rows as across.
    destination_shard = 1 if same_shard else 2
    source = rig.wallet_on(1, "10.00")
    destination = rig.wallet_on(destination_shard, str(MAX_BALANCE - Decimal("1.00")))
    request = debit(source, destination, "5.00")
    rig.enqueue(request)
    rig.worker().work(burst=True)
    assert state(rig.db, request.operation_id) == (TransferState.FAILED, Rejection.BALANCE_LIMIT.value)
    assert (rig.balance(source), rig.balance(destination)) == (Decimal("10.00"), MAX_BALANCE - Decimal("1.00"))
    assert legs(rig.db, request.operation_id) == {
        "TRANSFER_OUT": (source, "applied"),
        "TRANSFER_IN": (destination, "rejected"),
        "TRANSFER_REFUND": (source, "applied"),
    }
    transfer = request.operation_id
    # The web waits on the same answers (``web.wallets.money.transfers``).
    assert rig.reply(credit_of(request)).error == Rejection.BALANCE_LIMIT.value
    assert rig.reply(refund_of(credit_of(request))).balance_after == Decimal("10.00")
    # Every leg delivered again changes nothing.
    for shard, leg in ((1, transfer), (destination_shard, credit_id(transfer)), (1, refund_id(transfer))):
        rig.redeliver(shard, dataclasses.replace(request, operation_id=leg))
    rig.worker().work(burst=True)
    assert rig.balance(source) == Decimal("10.00")
    assert len(legs(rig.db, transfer)) == 3


def test_a_wallet_keeps_room_for_the_refund_of_its_pending_transfer(rig: Rig) -> None:
    # The source is near the limit and its transfer is away: deposits may not take the room its
    # refund needs, so the refund (never refused) always fits and the transfer always settles.
    source = rig.wallet_on(1, str(MAX_BALANCE - Decimal("10.00")))
    destination = rig.wallet_on(2, str(MAX_BALANCE))
    request = debit(source, destination, "5.00")
    rig.enqueue(request)
    rig.worker(shards=[1]).work(burst=True)
    assert state(rig.db, request.operation_id) == (TransferState.PENDING, None)
    too_much = operation(source, OperationType.DEPOSIT, "10.01")
    room = operation(source, OperationType.DEPOSIT, "10.00")
    rig.enqueue(too_much)
    rig.enqueue(room)
    rig.worker(shards=[1]).work(burst=True)
    assert rig.reply(too_much).error == Rejection.BALANCE_LIMIT.value
    assert rig.reply(room).status is OperationStatus.APPLIED
    rig.worker(shards=[2]).work(burst=True)  # the destination refuses the credit
    rig.worker(shards=[1]).work(burst=True)  # the refund
    assert state(rig.db, request.operation_id) == (TransferState.FAILED, Rejection.BALANCE_LIMIT.value)
    assert legs(rig.db, request.operation_id)["TRANSFER_REFUND"] == (source, "applied")
    assert rig.balance(source) == MAX_BALANCE


def test_a_debit_redelivered_after_a_crash_enqueues_its_credit_again_and_moves_money_once(rig: Rig) -> None:
    source, destination = rig.wallet_on(1, "10.00"), rig.wallet_on(2)
    request = debit(source, destination, "3.00")
    rig.enqueue(request)
    rig.worker(shards=[1]).work(burst=True)
    rig.redis.delete(keys.queue_key(2))  # as if the worker died before enqueueing the credit
    rig.redeliver(1, request)
    rig.worker().work(burst=True)
    assert state(rig.db, request.operation_id) == (TransferState.COMPLETED, None)
    assert (rig.balance(source), rig.balance(destination)) == (Decimal("7.00"), Decimal("3.00"))


def test_the_source_owner_enqueues_a_lost_credit_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chores, "TRANSFER_GRACE", 0)
    source, destination = rig.wallet_on(1, "10.00"), rig.wallet_on(2)
    request = debit(source, destination, "3.00")
    rig.enqueue(request)
    rig.worker(shards=[1]).work(burst=True)
    rig.redis.flushdb()  # Redis lost everything between the legs
    assert sweep(rig) == 1
    rig.worker().work(burst=True)
    assert state(rig.db, request.operation_id) == (TransferState.COMPLETED, None)
    assert sweep(rig) == 0
    assert (rig.balance(source), rig.balance(destination)) == (Decimal("7.00"), Decimal("3.00"))


@pytest.fixture
def lost_refund(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> OperationRequest:
    """The debit of a transfer of 4.00 out of a wallet of 10.00 whose credit the destination
    refused (the balance limit) and whose refund's job Redis lost; sweeps see it at once."""
    monkeypatch.setattr(chores, "TRANSFER_GRACE", 0)
    source = rig.wallet_on(1, "10.00")
    destination = rig.wallet_on(2, str(MAX_BALANCE))
    request = debit(source, destination, "4.00")
    rig.enqueue(request)
    rig.worker(shards=[1]).work(burst=True)
    rig.worker(shards=[2]).work(burst=True)  # refuses the credit, enqueues the refund
    rig.redis.flushdb()  # the refund's job is lost
    assert state(rig.db, request.operation_id) == (TransferState.PENDING, None)
    return request


def test_the_source_owner_applies_a_lost_refund(rig: Rig, lost_refund: OperationRequest) -> None:
    request, source = lost_refund, lost_refund.wallet_id
    assert sweep(rig, shards=[1]) == 1
    assert state(rig.db, request.operation_id) == (TransferState.FAILED, Rejection.BALANCE_LIMIT.value)
    assert rig.balance(source) == Decimal("10.00")


def test_the_sweep_takes_each_pending_transfer_in_turn_past_those_it_cannot_move(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chores, "TRANSFER_GRACE", 0)
    monkeypatch.setattr(chores, "SWEEP_BATCH", 2)
    source, destination = rig.wallet_on(1, "10.00"), rig.wallet_on(2)
    # Older transfers whose credits wait in the destination's queue (no worker serves it):
    # nothing to redo, more of them than one sweep looks at.
    waiting = [debit(source, destination, "1.00") for _ in range(5)]
    for request in waiting:
        rig.enqueue(request)
    rig.worker(shards=[1]).work(burst=True)
    lost = debit(source, destination, "2.00")
    rig.enqueue(lost)
    rig.worker(shards=[1]).work(burst=True)
    rig.redis.delete(keys.job_key(credit_id(lost.operation_id)))  # Redis lost this one's credit
    redone = [sweep(rig, shards=[1]) for _ in range(3)]
    assert redone == [0, 0, 1]  # two looks at two waiting ones each, then the lost one's turn
    rig.worker(shards=[2]).work(burst=True)
    assert {state(rig.db, r.operation_id) for r in [*waiting, lost]} == {(TransferState.COMPLETED, None)}
    assert rig.balance(destination) == Decimal("7.00")


def test_a_transfer_the_sweep_cannot_move_is_set_aside_for_an_operator(rig: Rig, lost_refund: OperationRequest) -> None:
    request, source = lost_refund, lost_refund.wallet_id
    refund = refund_of(credit_of(request))
    with rig.db.begin() as conn:  # the refund refused for good (as PostgreSQL refusing its data would)
        operation_refuse(conn, refund, Rejection.UNPROCESSABLE, shard_count=rig.settings.shard_count)
    assert sweep(rig, shards=[1]) == 0
    with rig.db.connect() as conn:
        stalled = conn.execute(select(transfers.c.stalled).where(transfers.c.id == request.operation_id)).scalar_one()
    assert stalled == f"its refund was refused: {Rejection.UNPROCESSABLE.value}"
    with rig.db.connect() as conn:  # out of the sweep's way from now on
        assert transfers_due(conn, [1], grace=0, limit=10).stalled == {}
    # Back as it was before the refusal, and back in the sweep: it moves on again.
    with rig.db.begin() as conn:
        conn.execute(delete(wallet_operations).where(wallet_operations.c.id == refund.operation_id))
        conn.execute(update(transfers).where(transfers.c.id == request.operation_id).values(stalled=None))
    assert sweep(rig, shards=[1]) == 1
    assert state(rig.db, request.operation_id) == (TransferState.FAILED, Rejection.BALANCE_LIMIT.value)
    assert rig.balance(source) == Decimal("10.00")


def test_the_job_function_enqueues_the_credit_like_the_shard_worker(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "get_redis", lambda: rig.redis)
    monkeypatch.setattr(jobs, "get_settings", lambda: rig.settings)
    source, destination = rig.wallet_on(1, "10.00"), rig.wallet_on(2)
    request = debit(source, destination, "6.00")
    rig.enqueue(request)
    job = Job.fetch(str(request.operation_id), connection=rig.redis, serializer=JSONSerializer)
    assert Decimal(job.perform()["balance_after"]) == Decimal("4.00")  # as a stock `rq worker` would run it
    credit = Job.fetch(str(credit_id(request.operation_id)), connection=rig.redis, serializer=JSONSerializer)
    assert credit.origin == "wallets.shard.02"
    assert Decimal(credit.perform()["balance_after"]) == Decimal("6.00")
    assert state(rig.db, request.operation_id) == (TransferState.COMPLETED, None)
