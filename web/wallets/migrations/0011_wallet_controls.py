"""Wallet controls (``shared.wallet_controls``): every wallet gets limits (``min_balance`` 0,
no ``max_balance``) and a status (``active``), which only its writer changes, by a ledger row of
the new kind ``WALLET_UPDATE`` (amount 0, its ``change`` in JSON; also on pending operations)
and a ``wallet.updated`` event. A balance may now be negative (an overdraft line), and held
money more than the balance (held against the line): the checks that said otherwise go, and
``held >= 0`` stays. Adding columns with constant defaults rewrites no table."""

from django.db import migrations, models

# As of this migration (later kinds and types come with their own).
_KINDS = [
    "DEPOSIT",
    "WITHDRAW",
    "TRANSFER_OUT",
    "TRANSFER_IN",
    "TRANSFER_REFUND",
    "HOLD",
    "HOLD_CAPTURE",
    "HOLD_VOID",
    "HOLD_EXPIRE",
    "WALLET_UPDATE",
]
_EVENTS = [
    "wallet.created",
    "wallet.updated",
    "operation.applied",
    "operation.rejected",
    "transfer.completed",
    "transfer.failed",
    "hold.created",
    "hold.captured",
    "hold.voided",
    "hold.expired",
]


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0010_currencies"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="event",
            name="events_type_valid",
        ),
        migrations.RemoveConstraint(
            model_name="wallet",
            name="wallets_balance_non_negative",
        ),
        migrations.RemoveConstraint(
            model_name="wallet",
            name="wallets_held_within_balance",
        ),
        migrations.RemoveConstraint(
            model_name="walletoperation",
            name="wallet_operations_amount_positive",
        ),
        migrations.RemoveConstraint(
            model_name="walletoperation",
            name="wallet_operations_type_valid",
        ),
        migrations.AddField(
            model_name="pendingoperation",
            name="change",
            field=models.JSONField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="wallet",
            name="max_balance",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                editable=False,
                help_text="Highest balance a credit may reach (none: no limit)",
                max_digits=22,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="wallet",
            name="min_balance",
            field=models.DecimalField(
                db_default=0,
                decimal_places=4,
                default=0,
                editable=False,
                help_text="Lowest available money a debit may leave (<0: overdraft)",
                max_digits=22,
            ),
        ),
        migrations.AddField(
            model_name="wallet",
            name="status",
            field=models.CharField(
                choices=[("active", "active"), ("frozen", "frozen"), ("closed", "closed")],
                db_default="active",
                default="active",
                editable=False,
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="walletoperation",
            name="change",
            field=models.JSONField(
                blank=True, editable=False, help_text="A wallet update's change of its limits or status", null=True
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="type",
            field=models.CharField(
                choices=[(k, k) for k in _EVENTS],
                editable=False,
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="pendingoperation",
            name="operation_type",
            field=models.CharField(
                choices=[(k, k) for k in _KINDS],
                editable=False,
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="walletoperation",
            name="operation_type",
            field=models.CharField(
                choices=[(k, k) for k in _KINDS],
                editable=False,
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "type__in",
                        _EVENTS,
                    )
                ),
                name="events_type_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="wallet",
            constraint=models.CheckConstraint(condition=models.Q(("held__gte", 0)), name="wallets_held_non_negative"),
        ),
        migrations.AddConstraint(
            model_name="wallet",
            constraint=models.CheckConstraint(
                condition=models.Q(("min_balance__lte", 0)), name="wallets_min_balance_not_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="wallet",
            constraint=models.CheckConstraint(
                condition=models.Q(("max_balance__gte", 0)), name="wallets_max_balance_non_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="wallet",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["active", "frozen", "closed"])), name="wallets_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="walletoperation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("amount__gt", 0),
                    models.Q(("amount", 0), ("operation_type__in", ["WALLET_UPDATE"])),
                    _connector="OR",
                ),
                name="wallet_operations_amount_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="walletoperation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "operation_type__in",
                        _KINDS,
                    )
                ),
                name="wallet_operations_type_valid",
            ),
        ),
    ]
