"""``ledger_apply``: one transaction, FIFO per wallet, exactly once, each operation on its own."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from shared.messages import OperationRequest, OperationResult
from shared.money import MAX_BALANCE
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.tables import transfers, wallet_operations
from shared.transfers import credit_of
from tests.support.factories import operation, seed_applied_deposit, transfer_debit, wallet_row
from tests.support.workers import balance
from worker.apply import _LOCK_WALLETS, ledger_apply

DEPOSIT, WITHDRAW = OperationType.DEPOSIT, OperationType.WITHDRAW
pytestmark = pytest.mark.usefixtures("db")


def apply(engine: Engine, requests: list[OperationRequest]) -> list[OperationResult]:
    with engine.begin() as conn:
        return ledger_apply(conn, requests, shard_count=16).results


def ledger_size(engine: Engine, wallet_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(wallet_operations).where(wallet_operations.c.wallet_id == wallet_id)
        ).scalar_one()


def test_batch_applies_in_order_and_rejects_only_the_overdraft(database: Engine) -> None:
    wallet = wallet_row(database)
    batch = [
        operation(wallet, DEPOSIT, "10.00"),
        operation(wallet, WITHDRAW, "15.00"),
        operation(wallet, WITHDRAW, "5.50"),
        operation(wallet, DEPOSIT, "1.25"),
    ]
    results = apply(database, batch)
    assert [(r.status, r.balance_after, r.error) for r in results] == [
        (OperationStatus.APPLIED, Decimal("10.00"), None),
        (OperationStatus.REJECTED, Decimal("10.00"), Rejection.INSUFFICIENT_FUNDS.value),
        (OperationStatus.APPLIED, Decimal("4.50"), None),
        (OperationStatus.APPLIED, Decimal("5.75"), None),
    ]
    assert [r.operation_id for r in results] == [r.operation_id for r in batch]
    assert balance(database, wallet) == Decimal("5.75")
    assert ledger_size(database, wallet) == 4


def test_redelivered_batch_changes_nothing_and_answers_the_same(database: Engine) -> None:
    wallet = wallet_row(database)
    batch = [operation(wallet, DEPOSIT, "3.00"), operation(wallet, WITHDRAW, "5.00")]
    first = apply(database, batch)
    again = apply(database, [*batch, operation(wallet, WITHDRAW, "1.00")])
    assert again[:2] == first
    assert again[2].balance_after == Decimal("2.00")
    assert balance(database, wallet) == Decimal("2.00")
    assert ledger_size(database, wallet) == 3


def test_same_operation_twice_in_one_batch_applies_once(database: Engine) -> None:
    wallet = wallet_row(database)
    deposit = operation(wallet, DEPOSIT, "7.00")
    results = apply(database, [deposit, deposit])
    assert results[0] == results[1]
    assert balance(database, wallet) == Decimal("7.00")
    assert ledger_size(database, wallet) == 1


def test_unknown_wallet_is_rejected_without_touching_others(database: Engine) -> None:
    wallet = wallet_row(database)
    results = apply(database, [operation(uuid.uuid4(), DEPOSIT, "1.00"), operation(wallet, DEPOSIT, "2.00")])
    assert results[0].status is OperationStatus.REJECTED
    assert results[0].error == Rejection.WALLET_NOT_FOUND.value
    assert results[1].balance_after == Decimal("2.00")


def test_deposit_beyond_the_column_limit_is_rejected(database: Engine) -> None:
    wallet = wallet_row(database)
    seed_applied_deposit(database, wallet, MAX_BALANCE - Decimal("1.00"))
    results = apply(database, [operation(wallet, DEPOSIT, "1.01"), operation(wallet, DEPOSIT, "1.00")])
    assert results[0].error == Rejection.BALANCE_LIMIT.value
    assert results[1].balance_after == MAX_BALANCE
    assert balance(database, wallet) == MAX_BALANCE


def test_many_wallets_in_one_batch(database: Engine) -> None:
    ids = [wallet_row(database) for _ in range(30)]
    batch = [operation(w, DEPOSIT, f"{i + 1}.00") for i, w in enumerate(ids)] * 2
    results = apply(database, batch)
    assert all(r.status is OperationStatus.APPLIED for r in results)
    assert [balance(database, w) for w in ids] == [Decimal(f"{i + 1}.00") for i in range(30)]


def test_empty_batch() -> None:
    assert ledger_apply(None, [], shard_count=16).results == []  # type: ignore[arg-type]


def keyed(wallet: uuid.UUID, kind: OperationType, amount: str, key: str) -> OperationRequest:
    import dataclasses

    return dataclasses.replace(operation(wallet, kind, amount), idempotency_key=key)


def test_a_key_already_in_the_ledger_answers_with_its_operation(database: Engine) -> None:
    wallet = wallet_row(database)
    [original] = apply(database, [keyed(wallet, DEPOSIT, "5.00", "k1")])
    retry, other = apply(database, [keyed(wallet, DEPOSIT, "5.00", "k1"), keyed(wallet, WITHDRAW, "5.00", "k1")])
    assert retry == original
    assert other.status is OperationStatus.REJECTED
    assert other.error == Rejection.IDEMPOTENCY_MISMATCH.value
    assert balance(database, wallet) == Decimal("5.00")
    assert ledger_size(database, wallet) == 1


def test_the_same_key_twice_in_one_batch_applies_once(database: Engine) -> None:
    wallet = wallet_row(database)
    first, second = apply(database, [keyed(wallet, DEPOSIT, "2.00", "k"), keyed(wallet, DEPOSIT, "2.00", "k")])
    assert second == first
    assert balance(database, wallet) == Decimal("2.00")


def _on_shard(shard: int, shard_count: int) -> uuid.UUID:
    while True:
        wallet_id = uuid.uuid4()
        if wallet_id.int % shard_count == shard:
            return wallet_id


def test_a_locked_wallet_does_not_block_another_shards_worker_naming_it(db: Engine) -> None:
    """A worker's lock on its wallets must not make another worker's foreign-key check wait
    (a transfer record or leg naming one of them as the other wallet, checked at commit):
    with FOR UPDATE, two workers moving money between their shards deadlocked."""
    # On two shards (of 16): within one shard the credit would be applied, and locked, inline.
    mine, theirs = (wallet_row(db, _on_shard(shard, 16)) for shard in (1, 2))
    with db.connect() as holder, db.connect() as other:
        holder.begin()
        holder.execute(_LOCK_WALLETS, {"ids": [mine]}).all()  # a batch of mine is in progress
        other.begin()
        other.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        debit = OperationRequest(uuid.uuid4(), theirs, OperationType.TRANSFER_OUT, Decimal("1.00"), datetime.now(UTC))
        debit = dataclasses.replace(debit, transfer_id=debit.operation_id, counterparty_id=mine)
        seed_applied_deposit(db, theirs, Decimal("5.00"))
        [result] = ledger_apply(other, [debit], shard_count=16).results  # names `mine`
        assert result.status is OperationStatus.APPLIED
        other.commit()  # Django's foreign keys are checked at commit (deferred): no wait
        holder.rollback()
    with db.begin() as conn:  # the transfer completed: no pending one left to other tests' sweeps
        [credited] = ledger_apply(conn, [credit_of(debit)], shard_count=16).results
    assert credited.status is OperationStatus.APPLIED


def test_the_writer_refuses_money_of_another_currency_or_of_more_decimals_whatever_sent_it(
    database: Engine,
) -> None:
    """The web refuses both before queueing; the writer, which reads the wallet's currency in
    its lock, refuses them too."""
    wallet = wallet_row(database, currency="JPY")
    seed_applied_deposit(database, wallet, Decimal("1000"))
    results = apply(
        database,
        [
            operation(wallet, WITHDRAW, "10", currency="EUR"),
            operation(wallet, WITHDRAW, "10.5", currency="JPY"),
            operation(wallet, WITHDRAW, "10", currency="JPY"),
        ],
    )
    assert [(r.status, r.error) for r in results] == [
        (OperationStatus.REJECTED, Rejection.CURRENCY_MISMATCH.value),
        (OperationStatus.REJECTED, Rejection.UNPROCESSABLE.value),
        (OperationStatus.APPLIED, None),
    ]
    assert balance(database, wallet) == Decimal("990")


def test_a_message_of_before_currencies_is_applied_in_its_wallets_currency(database: Engine) -> None:
    wallet = wallet_row(database, currency="KWD")
    keyed = dataclasses.replace(operation(wallet, DEPOSIT, "1.5", currency=None), idempotency_key="old-1")
    (result,) = apply(database, [keyed])
    assert result.status is OperationStatus.APPLIED
    with database.connect() as conn:
        assert (
            conn.execute(
                select(wallet_operations.c.currency).where(wallet_operations.c.id == keyed.operation_id)
            ).scalar_one()
            == "KWD"
        )
    # Its retry, sent now (with the currency), is the same request.
    retry = dataclasses.replace(keyed, operation_id=uuid.uuid4(), currency="KWD")
    assert apply(database, [retry]) == [result]


def test_a_transfer_refused_for_its_currency_is_recorded_in_its_sources(database: Engine) -> None:
    """A debit naming another currency than its source's (the web refuses it first) fails the
    transfer, whose record is in the source's currency: the audit (``currency_mismatches``) holds
    every transfer to that, and checks a destination's only once money reached it."""
    euros, yen = wallet_row(database), wallet_row(database, currency="JPY")
    seed_applied_deposit(database, euros, Decimal("10.00"))
    named_wrong = dataclasses.replace(transfer_debit(euros, yen, "1.00"), currency="JPY")
    assert [r.error for r in apply(database, [named_wrong])] == [Rejection.CURRENCY_MISMATCH.value]
    with database.connect() as conn:
        found = conn.execute(
            select(transfers.c.state, transfers.c.currency).where(transfers.c.id == named_wrong.operation_id)
        ).one()
    assert tuple(found) == ("failed", "EUR")
    assert balance(database, euros) == Decimal("10.00")
