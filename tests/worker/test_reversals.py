"""Reversals as their writers decide them (``worker.reversals``): never more than the original in
total, only of what may be reversed, in order with the wallet's money."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import Engine, select, update

from shared.audit import reversal_excesses
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.tables import transfers, wallet_operations
from shared.transfers import TransferState, credit_id
from tests.support.factories import (
    operation,
    reversal,
    seed_applied_deposit,
    transfer_debit,
    transfer_reversal,
    wallet_row,
    wallet_update,
)
from tests.support.workers import Rig, balance, decided

DEPOSIT, WITHDRAW = OperationType.DEPOSIT, OperationType.WITHDRAW
APPLIED, REJECTED = OperationStatus.APPLIED, OperationStatus.REJECTED
TOO_LARGE, NOT_REVERSIBLE = "Reversal exceeds the amount left to reverse", "Operation cannot be reversed"


def test_a_deposit_is_reversed_in_parts_never_past_its_amount_within_a_batch_or_across(db: Engine) -> None:
    wallet = wallet_row(db)
    deposit = operation(wallet, DEPOSIT, "100.00")
    assert decided(db, deposit, operation(wallet, DEPOSIT, "50.00")) == [(APPLIED, None)] * 2
    assert decided(db, reversal(deposit, "30.00"), reversal(deposit, "70.01"), reversal(deposit, "60.00")) == [
        (APPLIED, None),
        (REJECTED, TOO_LARGE),
        (APPLIED, None),
    ]
    assert decided(db, reversal(deposit, "10.01"), reversal(deposit, "10.00")) == [
        (REJECTED, TOO_LARGE),
        (APPLIED, None),
    ]
    assert decided(db, reversal(deposit, "0.01")) == [(REJECTED, TOO_LARGE)]
    assert balance(db, wallet) == Decimal("50.00")  # 150 in, all of the first deposit back out
    with db.connect() as conn:
        rows = conn.execute(
            select(wallet_operations.c.operation_type, wallet_operations.c.amount)
            .where(wallet_operations.c.reversal_of == deposit.operation_id)
            .where(wallet_operations.c.status == APPLIED.value)
            .order_by(wallet_operations.c.seq)
        ).all()
    assert rows == [("REVERSE_DEPOSIT", Decimal(amount)) for amount in ("30.00", "60.00", "10.00")]


def test_a_deposit_reversal_takes_money_as_a_withdrawal_does(db: Engine) -> None:
    wallet = wallet_row(db)
    deposit = operation(wallet, DEPOSIT, "100.00")
    assert decided(db, deposit, operation(wallet, WITHDRAW, "80.00")) == [(APPLIED, None)] * 2
    assert decided(db, reversal(deposit, "20.01")) == [(REJECTED, "Insufficient funds")]  # the money is spent
    assert decided(db, wallet_update(wallet, status="frozen"), reversal(deposit, "1.00")) == [
        (APPLIED, None),
        (REJECTED, "Wallet is frozen"),
    ]
    assert decided(db, wallet_update(wallet, status="active", min_balance="-50.00"), reversal(deposit, "70.00")) == [
        (APPLIED, None),
        (APPLIED, None),  # into the overdraft line
    ]
    assert balance(db, wallet) == Decimal("-50.00")


def test_a_withdrawal_reversal_puts_money_back_within_the_maximum(db: Engine) -> None:
    wallet = wallet_row(db)
    seed_applied_deposit(db, wallet, Decimal("100.00"))
    withdrawal = operation(wallet, WITHDRAW, "40.00")
    assert decided(db, withdrawal, wallet_update(wallet, max_balance="90.00", status="frozen")) == [(APPLIED, None)] * 2
    # Money owed to a frozen wallet still arrives; its maximum holds it back like any credit.
    assert decided(db, reversal(withdrawal, "30.01"), reversal(withdrawal, "30.00")) == [
        (REJECTED, "Balance limit exceeded"),
        (APPLIED, None),
    ]
    assert decided(db, reversal(withdrawal, "10.01")) == [(REJECTED, TOO_LARGE)]
    assert balance(db, wallet) == Decimal("90.00")


def test_only_an_applied_deposit_or_withdrawal_of_the_wallet_is_reversed_by_its_own_kind(db: Engine) -> None:
    wallet, other = wallet_row(db), wallet_row(db)
    seed_applied_deposit(db, other, Decimal("10.00"))
    deposit, refused = operation(wallet, DEPOSIT, "10.00"), operation(wallet, WITHDRAW, "99.00")
    withdrawal = operation(wallet, WITHDRAW, "1.00")
    assert decided(db, deposit, refused, withdrawal) == [
        (APPLIED, None),
        (REJECTED, "Insufficient funds"),
        (APPLIED, None),
    ]
    first = reversal(deposit, "1.00")
    assert decided(db, first) == [(APPLIED, None)]
    assert (
        decided(
            db,
            reversal(refused, "1.00"),  # never applied
            replace(reversal(deposit, "1.00"), wallet_id=other),  # of another wallet
            replace(reversal(withdrawal, "1.00"), operation_type=OperationType.REVERSE_DEPOSIT),  # the wrong kind
            replace(reversal(deposit, "1.00"), reversal_of=first.operation_id),  # a reversal
            replace(reversal(deposit, "1.00"), reversal_of=uuid.uuid4()),  # nothing
        )
        == [(REJECTED, NOT_REVERSIBLE)] * 5
    )


def test_a_transfer_is_reversed_by_a_transfer_back_once_per_amount(rig: Rig) -> None:
    source, destination = rig.wallet_on(1, "100.00"), rig.wallet_on(2)
    original = transfer_debit(source, destination, "50.00")
    rig.enqueue(original)
    rig.worker(shards=[1]).work(burst=True)
    early = transfer_reversal(original, "1.00")
    rig.enqueue(early)  # the credit is not applied yet: the transfer is pending
    rig.worker(shards=[2]).work(burst=True)
    assert rig.reply(early).error == NOT_REVERSIBLE
    back, again = transfer_reversal(original, "20.00"), transfer_reversal(original, "30.01")
    for request in (back, again):
        rig.enqueue(request)
    rig.worker(shards=[2]).work(burst=True)
    rig.worker(shards=[1]).work(burst=True)  # the reversal's credit
    assert [rig.reply(back).status, rig.reply(again).error] == [APPLIED, TOO_LARGE]
    assert (rig.balance(source), rig.balance(destination)) == (Decimal("70.00"), Decimal("30.00"))
    with rig.db.connect() as conn:
        record = conn.execute(select(transfers).where(transfers.c.id == back.operation_id)).one()
        legs = conn.execute(
            select(wallet_operations.c.reversal_of).where(
                wallet_operations.c.id.in_([back.operation_id, credit_id(back.operation_id)])
            )
        ).all()
    assert (record.state, record.reversal_of) == (TransferState.COMPLETED.value, original.operation_id)
    assert legs == [(original.operation_id,)] * 2
    # Only the way back, and never of a reversal.
    wrong_way = replace(transfer_debit(source, destination, "1.00"), reversal_of=original.operation_id)
    of_reversal = transfer_reversal(back, "1.00")
    rig.enqueue(wrong_way)
    rig.enqueue(of_reversal)
    rig.worker(shards=[1]).work(burst=True)
    assert [rig.reply(wrong_way).error, rig.reply(of_reversal).error] == [NOT_REVERSIBLE] * 2


def test_a_reversal_the_source_refuses_is_refunded_and_no_longer_counts(rig: Rig) -> None:
    source, destination = rig.wallet_on(1, "100.00"), rig.wallet_on(2)
    original = transfer_debit(source, destination, "50.00")
    rig.enqueue(original)
    rig.worker(shards=[1]).work(burst=True)
    rig.worker(shards=[2]).work(burst=True)
    assert decided(rig.db, wallet_update(source, max_balance="50.00")) == [(APPLIED, None)]
    refused = transfer_reversal(original, "50.00")
    rig.enqueue(refused)
    rig.worker(shards=[2]).work(burst=True)
    rig.worker(shards=[1]).work(burst=True)  # the credit is refused
    rig.worker(shards=[2]).work(burst=True)  # the refund
    with rig.db.connect() as conn:
        state = conn.execute(select(transfers.c.state).where(transfers.c.id == refused.operation_id)).scalar_one()
    assert state == TransferState.FAILED.value
    assert rig.balance(destination) == Decimal("50.00")
    assert decided(rig.db, wallet_update(source, max_balance=None)) == [(APPLIED, None)]
    whole = transfer_reversal(original, "50.00")
    rig.enqueue(whole)
    rig.worker(shards=[2]).work(burst=True)
    rig.worker(shards=[1]).work(burst=True)
    assert rig.reply(whole).status is APPLIED
    assert (rig.balance(source), rig.balance(destination)) == (Decimal("100.00"), Decimal(0))


def test_the_audit_finds_an_operation_reversed_past_its_amount(db: Engine) -> None:
    wallet = wallet_row(db)
    deposit = operation(wallet, DEPOSIT, "10.00")
    assert decided(db, deposit) == [(APPLIED, None)]
    assert decided(db, reversal(deposit, "4.00")) == [(APPLIED, None)]
    assert reversal_excesses(db) == []
    with db.begin() as conn:  # as if the writer had let 10.01 through
        conn.execute(
            update(wallet_operations).where(wallet_operations.c.id == deposit.operation_id).values(amount="3.99")
        )
    try:
        assert reversal_excesses(db) == [(deposit.operation_id, Decimal("4.0000"), Decimal("3.9900"))]
    finally:
        with db.begin() as conn:
            conn.execute(
                update(wallet_operations).where(wallet_operations.c.id == deposit.operation_id).values(amount="10.00")
            )
