"""Transfers and holds made without metadata stored it as JSON ``null`` (SQLAlchemy's default for
None); every object column now stores SQL NULL for none (``shared.tables.OBJECT``), and these
rows are made the same. Reading them gave None either way, so no answer changes."""

from django.db import migrations

_COLUMNS = (
    ("wallets", "metadata"),
    ("wallets", "created_metadata"),
    ("transfers", "metadata"),
    ("holds", "metadata"),
    ("pending_operations", "metadata"),
    ("pending_operations", "change"),
    ("wallet_operations", "metadata"),
    ("wallet_operations", "change"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0017_history_in_time_order"),
    ]

    operations = [
        migrations.RunSQL(
            f"UPDATE {table} SET {column} = NULL WHERE {column} = 'null'::jsonb",  # noqa: S608 (constants)
            reverse_sql=migrations.RunSQL.noop,
        )
        for table, column in _COLUMNS
    ]
