"""Currencies: every wallet holds one (``DEFAULT_CURRENCY`` for the wallets that existed), and
every row that carries its money says which (ledger rows, pending operations, transfers,
holds: copied from their wallet). Money columns gain two decimals (``numeric(22,4)``, for the
currencies with three or four), which rewrites those tables once."""

from django.db import migrations, models

from shared.config import get_settings
from web.wallets.models.fields import currency_code, money

_MONEY = {
    "wallet": ("balance", "held"),
    "walletoperation": ("amount", "balance_after", "held_after"),
    "pendingoperation": ("amount",),
    "transfer": ("amount",),
    "hold": ("amount", "captured"),
}
_DEFAULTS = {("wallet", "balance"), ("wallet", "held"), ("walletoperation", "held_after")}
_NULLABLE = {("hold", "captured")}
_HELP = {
    ("wallet", "held"): "Money of active holds: in the balance, not available",
    ("walletoperation", "held_after"): "The wallet's held money after it (balance_after less this was available)",
}

# Each table that carries a wallet's money, and the column naming that wallet.
_OF_WALLET = {
    "walletoperation": ("wallet_operations", "wallet_id"),
    "pendingoperation": ("pending_operations", "wallet_id"),
    "transfer": ("transfers", "from_wallet_id"),
    "hold": ("holds", "wallet_id"),
}


def _money_field(model: str, name: str) -> models.DecimalField:  # type: ignore[type-arg]
    options: dict[str, object] = {}
    if (model, name) in _DEFAULTS:
        options.update(default=0, db_default=0)
    if (model, name) in _NULLABLE:
        options.update(null=True, blank=True)
    if (model, name) in _HELP:
        options["help_text"] = _HELP[(model, name)]
    return money(**options)


def _currency_copied(model: str) -> migrations.SeparateDatabaseAndState:
    table, wallet = _OF_WALLET[model]
    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AddField(model_name=model, name="currency", field=currency_code())],
        database_operations=[
            migrations.RunSQL(
                # The update's foreign-key checks (deferred) run at once: the table can be altered after it.
                f"SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE {table} ADD COLUMN currency varchar(3);"
                f" UPDATE {table} t SET currency = w.currency FROM wallets w WHERE w.id = t.{wallet};"
                f" ALTER TABLE {table} ALTER COLUMN currency SET NOT NULL",
                reverse_sql=f"ALTER TABLE {table} DROP COLUMN currency",
            )
        ],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0009_events_and_webhooks"),
    ]

    operations = [
        *(
            migrations.AlterField(model_name=model, name=name, field=_money_field(model, name))
            for model, names in _MONEY.items()
            for name in names
        ),
        migrations.AddField(
            model_name="wallet",
            name="currency",
            field=currency_code(default=get_settings().default_currency),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="wallet",
            constraint=models.CheckConstraint(condition=models.Q(currency__regex="^[A-Z]{3}$"), name="wallets_currency_code"),
        ),
        *(_currency_copied(model) for model in _OF_WALLET),
    ]
