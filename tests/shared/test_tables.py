"""The SQLAlchemy mirror (``shared.tables``) must match what Django's migrations create."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

from shared.tables import metadata


@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_mirror_matches_migrated_schema(database: Engine, table: str) -> None:
    inspector = inspect(database)
    mirror = metadata.tables[table]
    actual = {column["name"]: column for column in inspector.get_columns(table)}
    assert set(actual) == set(mirror.columns.keys())
    for column in mirror.columns:
        found = actual[column.name]
        assert found["nullable"] == column.nullable, column.name
        assert found["type"].compile(database.dialect) == column.type.compile(database.dialect), column.name
    assert inspector.get_pk_constraint(table)["constrained_columns"] == [c.name for c in mirror.primary_key]
    assert {(tuple(fk["constrained_columns"]), fk["referred_table"]) for fk in inspector.get_foreign_keys(table)} == {
        ((fk.parent.name,), fk.column.table.name) for fk in mirror.foreign_keys
    }


def test_ledger_sequence_is_an_identity_column(database: Engine) -> None:
    seq = {c["name"]: c for c in inspect(database).get_columns("wallet_operations")}["seq"]
    assert seq.get("identity", {}).get("always") is True


def test_no_migration_is_missing(database: Engine) -> None:
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
