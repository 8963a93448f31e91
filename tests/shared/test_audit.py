"""The ledger audit must catch a balance its ledger does not explain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, delete, insert, literal_column, null, select, update

from shared.audit import (
    chain_breaks,
    conservation_gaps,
    currency_mismatches,
    json_nulls,
    ledger_mismatches,
    limit_breaches,
    limit_crossings,
    metadata_mismatches,
    time_reversals,
)
from shared.money import MAX_BALANCE
from shared.operations import OperationType
from shared.tables import transfers, wallet_operations, wallets
from shared.transfers import TransferState
from tests.support.factories import TEST_CURRENCY, operation, seed_applied_deposit, wallet_row, wallet_update
from worker.apply import ledger_apply


def _transfer_row(
    db: Engine, source: uuid.UUID, destination: uuid.UUID, amount: Decimal, state: TransferState, **values: object
) -> uuid.UUID:
    """A transfers row written directly (no legs), for a check to find; its id."""
    transfer_id = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            insert(transfers).values(
                id=transfer_id,
                from_wallet_id=source,
                to_wallet_id=destination,
                amount=amount,
                shard=0,
                state=state.value,
                created_at=datetime.now(UTC),
                currency=TEST_CURRENCY,
                **values,
            )
        )
    return transfer_id


def test_audit_catches_a_tampered_balance(db: Engine) -> None:
    wallet = wallet_row(db)
    seed_applied_deposit(db, wallet, Decimal("10.00"))
    assert ledger_mismatches(db) == []
    with db.begin() as conn:
        conn.execute(update(wallets).where(wallets.c.id == wallet).values(balance=Decimal("11.00")))
    try:
        assert [row[0] for row in ledger_mismatches(db)] == [wallet]
    finally:
        with db.begin() as conn:
            conn.execute(update(wallets).where(wallets.c.id == wallet).values(balance=Decimal("10.00")))


def test_audit_catches_a_broken_chain(db: Engine) -> None:
    wallet = wallet_row(db)
    seed_applied_deposit(db, wallet, Decimal("5.00"))
    with db.begin() as conn:
        conn.execute(
            update(wallet_operations).where(wallet_operations.c.wallet_id == wallet).values(balance_after=Decimal("4"))
        )
    try:
        assert [row[1] for row in chain_breaks(db)] == [wallet]
    finally:
        with db.begin() as conn:
            conn.execute(
                update(wallet_operations)
                .where(wallet_operations.c.wallet_id == wallet)
                .values(balance_after=Decimal("5.00"))
            )


def test_audit_catches_a_wallet_past_its_limit_with_its_pending_transfers(db: Engine) -> None:
    source, destination = wallet_row(db), wallet_row(db)
    seed_applied_deposit(db, source, MAX_BALANCE - Decimal("1.00"))
    # 2.00 away in a pending transfer that took nothing from the balance
    transfer_id = _transfer_row(db, source, destination, Decimal("2.00"), TransferState.PENDING)
    try:
        assert [row[0] for row in limit_breaches(db)] == [source]
    finally:
        with db.begin() as conn:
            conn.execute(delete(transfers).where(transfers.c.id == transfer_id))
    assert limit_breaches(db) == []


def test_audit_holds_money_conserved_in_each_currency_apart(db: Engine) -> None:
    """A euro created and a yen lost sum to a small number, not to zero, and would pass a
    check across currencies that happened to offset: each currency is checked on its own."""
    euros, yen = wallet_row(db, currency="EUR"), wallet_row(db, currency="JPY")
    seed_applied_deposit(db, euros, Decimal("100"))
    seed_applied_deposit(db, yen, Decimal("100"))
    assert conservation_gaps(db) == {}
    with db.begin() as conn:  # 1 created in EUR, 1 lost in JPY: nothing missing in sum
        conn.execute(update(wallets).where(wallets.c.id == euros).values(balance=Decimal("101")))
        conn.execute(update(wallets).where(wallets.c.id == yen).values(balance=Decimal("99")))
    try:
        assert conservation_gaps(db) == {"EUR": Decimal(1), "JPY": Decimal(-1)}
    finally:
        with db.begin() as conn:
            conn.execute(update(wallets).where(wallets.c.id == euros).values(balance=Decimal("100")))
            conn.execute(update(wallets).where(wallets.c.id == yen).values(balance=Decimal("100")))


def test_audit_catches_a_ledger_row_in_another_currency_than_its_wallet(db: Engine) -> None:
    wallet = wallet_row(db, currency="KWD")
    seed_applied_deposit(db, wallet, Decimal("1.500"))
    assert currency_mismatches(db) == []
    with db.begin() as conn:
        conn.execute(update(wallet_operations).where(wallet_operations.c.wallet_id == wallet).values(currency="EUR"))
    try:
        assert [row[0] for row in currency_mismatches(db)] == ["operation"]
    finally:
        with db.begin() as conn:
            conn.execute(
                update(wallet_operations).where(wallet_operations.c.wallet_id == wallet).values(currency="KWD")
            )


def test_audit_checks_each_debit_and_credit_against_the_limits_as_they_stood_then(db: Engine) -> None:
    wallet = wallet_row(db)
    line = wallet_update(wallet, min_balance="-5.00")
    ceiling = wallet_update(wallet, max_balance="10.00")
    with db.begin() as conn:
        ledger_apply(
            conn,
            [
                line,
                ceiling,
                operation(wallet, OperationType.DEPOSIT, "10.00"),
                operation(wallet, OperationType.WITHDRAW, "15.00"),  # down to the line
                # Both limits later set past the money it has: allowed, and no earlier row crosses them.
                wallet_update(wallet, min_balance="0", max_balance="1.00"),
            ],
            shard_count=16,
        )
    assert limit_crossings(db) == []
    for tampered, change, crossed in (
        (line, {"min_balance": "-4.9900"}, OperationType.WITHDRAW),
        (ceiling, {"max_balance": "9.9900"}, OperationType.DEPOSIT),
    ):
        with db.begin() as conn:
            conn.execute(
                update(wallet_operations).where(wallet_operations.c.id == tampered.operation_id).values(change=change)
            )
        try:
            assert [(row[1], row[2]) for row in limit_crossings(db)] == [(wallet, crossed.value)]
        finally:
            with db.begin() as conn:
                conn.execute(
                    update(wallet_operations)
                    .where(wallet_operations.c.id == tampered.operation_id)
                    .values(change=tampered.change.to_json() if tampered.change else None)
                )
    assert limit_crossings(db) == []


def test_audit_catches_a_row_decided_before_the_one_it_follows(db: Engine) -> None:
    """A wallet's history at an instant reads its ledger positions by time: a row timed before
    its predecessor (a clock set back) is reported."""
    wallet = wallet_row(db)
    seed_applied_deposit(db, wallet, Decimal("1.00"))
    seed_applied_deposit(db, wallet, Decimal("2.00"))
    assert time_reversals(db) == []
    rows = wallet_operations.c
    with db.begin() as conn:
        first, second = conn.execute(
            select(rows.id, rows.applied_at).where(rows.wallet_id == wallet).order_by(rows.seq)
        ).all()
        conn.execute(
            update(wallet_operations)
            .where(rows.id == second.id)
            .values(applied_at=first.applied_at - timedelta(microseconds=1))
        )
    try:
        assert [row[0] for row in time_reversals(db)] == [second.id]
    finally:
        with db.begin() as conn:
            conn.execute(update(wallet_operations).where(rows.id == second.id).values(applied_at=second.applied_at))
    assert time_reversals(db) == []


def test_audit_checks_each_wallets_metadata_against_its_changes(db: Engine) -> None:
    """A wallet's metadata is the last change that named it (null removes it), else its
    metadata as made: a wallet whose column says otherwise is reported."""
    wallet = wallet_row(db)
    with db.begin() as conn:
        conn.execute(
            update(wallets).where(wallets.c.id == wallet).values(metadata={"a": "1"}, created_metadata={"a": "1"})
        )
    assert metadata_mismatches(db) == []
    with db.begin() as conn:
        ledger_apply(
            conn, [wallet_update(wallet, metadata={"b": "2"}), wallet_update(wallet, status="frozen")], shard_count=16
        )
    assert metadata_mismatches(db) == []
    with db.begin() as conn:
        ledger_apply(
            conn, [wallet_update(wallet, metadata=None), wallet_update(wallet, status="active")], shard_count=16
        )
    assert metadata_mismatches(db) == []
    for tampered in ({"b": "2"}, {"a": "1"}):  # the last change removed it: neither the one before nor as made
        with db.begin() as conn:
            conn.execute(update(wallets).where(wallets.c.id == wallet).values(metadata=tampered))
        try:
            assert [row[0] for row in metadata_mismatches(db)] == [wallet]
        finally:
            with db.begin() as conn:
                conn.execute(update(wallets).where(wallets.c.id == wallet).values(metadata=null()))  # SQL's, not JSON's
    assert metadata_mismatches(db) == []


def test_audit_catches_json_null_standing_for_no_object(db: Engine) -> None:
    """Python's None is SQL NULL in every object column (a transfer made without metadata here);
    a JSON null where there is none is reported."""
    source, destination = wallet_row(db), wallet_row(db)
    transfer = _transfer_row(db, source, destination, Decimal("1.00"), TransferState.FAILED, metadata=None)
    with db.connect() as conn:
        stored = conn.execute(select(transfers.c.metadata.is_(None)).where(transfers.c.id == transfer)).scalar_one()
    assert stored is True
    assert json_nulls(db) == []
    with db.begin() as conn:
        conn.execute(update(wallets).where(wallets.c.id == source).values(metadata=literal_column("'null'::jsonb")))
    try:
        assert json_nulls(db) == [("wallets", "metadata", 1)]
    finally:
        with db.begin() as conn:
            conn.execute(update(wallets).where(wallets.c.id == source).values(metadata=None))
            conn.execute(delete(transfers).where(transfers.c.id == transfer))
