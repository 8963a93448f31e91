"""The ledger audit must catch a balance its ledger does not explain."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, update

from shared.audit import chain_breaks, ledger_mismatches
from shared.tables import wallet_operations, wallets
from tests.factories import seed_applied_deposit, wallet_row


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
