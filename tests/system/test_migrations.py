"""Migrations that change money's shape, run on a database that already holds money."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, text

from shared.audit import ledger_sound
from tests.support.databases import database_made, manage


@pytest.fixture
def before_currencies() -> Iterator[tuple[str, Engine]]:
    """A database of its own, migrated up to the last migration before currencies."""
    url = database_made("migrations")
    manage("migrate", "wallets", "0009", "--verbosity", "0", DATABASE_URL=url)
    engine = create_engine("postgresql+psycopg2://" + url.split("://", 1)[1])
    yield url, engine
    engine.dispose()


def test_currencies_come_to_every_row_of_money_from_the_setting_and_no_amount_changes(
    before_currencies: tuple[str, Engine],
) -> None:
    url, engine = before_currencies
    source, destination, transfer, hold = (uuid.uuid4() for _ in range(4))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO wallets (id, balance, held, created_at, updated_at)"
                " VALUES (:a, 12.34, 2.00, now(), now()), (:b, 0, 0, now(), now())"
            ),
            {"a": source, "b": destination},
        )
        conn.execute(
            text(
                "INSERT INTO transfers (id, from_wallet_id, to_wallet_id, amount, shard, state, created_at)"
                " VALUES (:t, :a, :b, 5.66, 0, 'pending', now())"
            ),
            {"t": transfer, "a": source, "b": destination},
        )
        conn.execute(
            text(
                "INSERT INTO holds (id, wallet_id, amount, state, shard, expires_at, created_at)"
                " VALUES (:h, :a, 2.00, 'active', 0, now() + interval '1 day', now())"
            ),
            {"h": hold, "a": source},
        )
        for kind, amount, after, held, hold_id, transfer_id in (
            ("DEPOSIT", "20.00", "20.00", "0", None, None),
            ("TRANSFER_OUT", "5.66", "14.34", "0", None, transfer),
            ("HOLD", "2.00", "14.34", "2.00", hold, None),
            ("WITHDRAW", "2.00", "12.34", "2.00", None, None),
        ):
            conn.execute(
                text(
                    "INSERT INTO wallet_operations (id, wallet_id, operation_type, amount, status, balance_after,"
                    " held_after, hold_id, transfer_id, counterparty_id, created_at)"
                    " VALUES (:id, :a, :kind, :amount, 'applied', :after, :held, :hold, :transfer, :other, now())"
                ),
                {
                    "id": transfer if kind == "TRANSFER_OUT" else hold if kind == "HOLD" else uuid.uuid4(),
                    "a": source,
                    "kind": kind,
                    "amount": Decimal(amount),
                    "after": Decimal(after),
                    "held": Decimal(held),
                    "hold": hold_id,
                    "transfer": transfer_id,
                    "other": destination if transfer_id else None,
                },
            )
        conn.execute(
            text(
                "INSERT INTO pending_operations (id, wallet_id, shard, operation_type, amount, created_at)"
                " VALUES (:id, :b, 0, 'DEPOSIT', 1.50, now())"
            ),
            {"id": uuid.uuid4(), "b": destination},
        )
    manage("migrate", "--verbosity", "0", DATABASE_URL=url, DEFAULT_CURRENCY="USD")
    with engine.connect() as conn:
        currencies = conn.execute(
            text(
                "SELECT 'wallets', currency FROM wallets UNION SELECT 'wallet_operations', currency FROM"
                " wallet_operations UNION SELECT 'transfers', currency FROM transfers UNION SELECT 'holds',"
                " currency FROM holds UNION SELECT 'pending_operations', currency FROM pending_operations"
            )
        ).all()
        assert sorted(currencies) == [
            ("holds", "USD"),
            ("pending_operations", "USD"),
            ("transfers", "USD"),
            ("wallet_operations", "USD"),
            ("wallets", "USD"),
        ]
        money = conn.execute(text("SELECT balance, held FROM wallets WHERE id = :a"), {"a": source}).one()
        assert money == (Decimal("12.34"), Decimal("2.00"))
        assert conn.execute(text("SELECT amount FROM transfers")).scalar_one() == Decimal("5.66")
        scale = conn.execute(
            text(
                "SELECT numeric_precision, numeric_scale FROM information_schema.columns"
                " WHERE table_name = 'wallet_operations' AND column_name = 'amount'"
            )
        ).one()
        assert scale == (22, 4)
    assert ledger_sound(engine)
