"""Indexes for history's filters, the balance at an instant and statements
(``web.wallets.money.history``). Built concurrently: a busy ledger keeps taking writes while
they are built (so this migration is not atomic)."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("wallets", "0013_annotations"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="walletoperation",
            index=models.Index(fields=["wallet", "applied_at", "seq"], name="wallet_operations_timeline"),
        ),
        AddIndexConcurrently(
            model_name="walletoperation",
            index=models.Index(
                models.F("wallet"),
                models.F("operation_type"),
                models.OrderBy(models.F("seq"), descending=True),
                name="wallet_operations_kinds",
            ),
        ),
        AddIndexConcurrently(
            model_name="walletoperation",
            index=models.Index(
                models.F("wallet"),
                models.OrderBy(models.F("seq"), descending=True),
                condition=models.Q(("status", "rejected")),
                name="wallet_operations_rejected",
            ),
        ),
        AddIndexConcurrently(
            model_name="walletoperation",
            index=models.Index(
                condition=models.Q(("reference__isnull", False)),
                fields=["reference", "wallet"],
                name="wallet_operations_reference",
            ),
        ),
        AddIndexConcurrently(
            model_name="walletoperation",
            index=GinIndex(
                condition=models.Q(("metadata__isnull", False)),
                fields=["metadata"],
                name="wallet_operations_metadata",
                opclasses=["jsonb_path_ops"],
            ),
        ),
    ]
