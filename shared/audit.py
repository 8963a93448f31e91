"""Ledger audit: does the ledger explain every balance?

Two checks, both empty when all is well: every balance equals the sum of its
applied operations, and every ledger row's ``balance_after`` is the running sum
of its wallet's applied operations in ledger order. The test suite runs them
after every test that touches the database; ``make bench`` after every run.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

LEDGER_CHECK = text(
    """
    SELECT w.id, w.balance, COALESCE(SUM(
        CASE o.operation_type WHEN 'DEPOSIT' THEN o.amount ELSE -o.amount END
    ) FILTER (WHERE o.status = 'applied'), 0) AS ledger
    FROM wallets w LEFT JOIN wallet_operations o ON o.wallet_id = w.id
    GROUP BY w.id, w.balance
    HAVING w.balance <> COALESCE(SUM(
        CASE o.operation_type WHEN 'DEPOSIT' THEN o.amount ELSE -o.amount END
    ) FILTER (WHERE o.status = 'applied'), 0)
    """
)


def ledger_mismatches(engine: Engine) -> list[tuple[object, ...]]:
    """Wallets whose balance the ledger does not explain (empty when all is well)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(LEDGER_CHECK)]


CHAIN_CHECK = text(
    """
    SELECT id, wallet_id, balance_after, running FROM (
        SELECT o.id, o.wallet_id, o.balance_after, o.status, SUM(
            CASE WHEN o.status <> 'applied' THEN 0
                 WHEN o.operation_type = 'DEPOSIT' THEN o.amount ELSE -o.amount END
        ) OVER (PARTITION BY o.wallet_id ORDER BY o.seq) AS running
        FROM wallet_operations o
    ) steps
    WHERE balance_after <> running
    """
)


def chain_breaks(engine: Engine) -> list[tuple[object, ...]]:
    """Ledger rows whose ``balance_after`` is not the running sum in ledger order."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(CHAIN_CHECK)]


def ledger_sound(engine: Engine) -> bool:
    """Whether every balance is explained by its ledger and every ``balance_after`` chains."""
    return not ledger_mismatches(engine) and not chain_breaks(engine)
