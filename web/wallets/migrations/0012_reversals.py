"""Reversals: two new kinds, ``REVERSE_DEPOSIT`` and ``REVERSE_WITHDRAW``, whose rows name the
operation they reverse (``reversal_of``, also on pending operations); a transfer that reverses
another names it (``transfers.reversal_of``), and so do its legs. Each is indexed where it is
set, for the writer that sums an operation's or a transfer's reversals (``worker.reversals``).
Nullable columns without a default rewrite no table."""

import django.db.models.deletion
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
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                help_text="The transfer this one reverses (its money sent back)",
                db_column="reversal_of",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wallets.transfer",
            ),
        ),
        migrations.AddField(
            model_name="walletoperation",
            name="reversal_of",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                help_text="What it reverses: a reversal's operation, or a reversing transfer leg's transfer",
                db_column="reversal_of",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wallets.walletoperation",
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
