"""Reversals: two new kinds, ``REVERSE_DEPOSIT`` and ``REVERSE_WITHDRAW``, whose rows name the
operation they reverse (``reversal_of``, also on pending operations); a transfer that reverses
another names it (``transfers.reversal_of``), and so do its legs. Each is indexed where it is
set, for the writer that sums an operation's or a transfer's reversals (``worker.reversals``).
Nullable columns without a default rewrite no table. They are not foreign keys: a refused
reversal is recorded as it was asked, even one that names nothing (the audit checks that every
applied one names what it may reverse)."""

from django.db import migrations, models

# As of this migration (later kinds come with their own).
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
    "REVERSE_DEPOSIT",
    "REVERSE_WITHDRAW",
]


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0011_wallet_controls"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="walletoperation",
            name="wallet_operations_type_valid",
        ),
        migrations.AddField(
            model_name="pendingoperation",
            name="reversal_of",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="transfer",
            name="reversal_of",
            field=models.UUIDField(
                blank=True,
                editable=False,
                help_text="The transfer this one reverses (its money sent back)",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="walletoperation",
            name="reversal_of",
            field=models.UUIDField(
                blank=True,
                editable=False,
                help_text="What it reverses: a reversal's operation, or a reversing transfer leg's transfer",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="pendingoperation",
            name="operation_type",
            field=models.CharField(choices=[(k, k) for k in _KINDS], editable=False, max_length=16),
        ),
        migrations.AlterField(
            model_name="walletoperation",
            name="operation_type",
            field=models.CharField(choices=[(k, k) for k in _KINDS], editable=False, max_length=16),
        ),
        migrations.AddIndex(
            model_name="transfer",
            index=models.Index(
                condition=models.Q(("reversal_of__isnull", False)), fields=["reversal_of"], name="transfers_reversals"
            ),
        ),
        migrations.AddIndex(
            model_name="walletoperation",
            index=models.Index(
                condition=models.Q(("reversal_of__isnull", False)),
                fields=["reversal_of"],
                name="wallet_operations_reversals",
            ),
        ),
        migrations.AddConstraint(
            model_name="walletoperation",
            constraint=models.CheckConstraint(
                condition=models.Q(("operation_type__in", _KINDS)), name="wallet_operations_type_valid"
            ),
        ),
    ]
