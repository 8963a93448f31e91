"""A wallet's history is read in the order of ``wallet_operations_timeline`` (``applied_at``,
``seq``), which is its ledger order (``web.wallets.money.history``), so the index of ledger
positions alone (``wallet_operations_history``) goes: one index fewer for every row a writer
inserts. The type and refusal filters' indexes end in the same order. Built concurrently, as
0014's, the new ones before the old ones go (so this migration is not atomic)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("wallets", "0016_metadata_pairs_by_wallet"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="walletoperation",
            index=models.Index(
                fields=["wallet", "operation_type", "applied_at", "seq"], name="wallet_operations_by_type"
            ),
        ),
        AddIndexConcurrently(
            model_name="walletoperation",
            index=models.Index(
                condition=models.Q(("status", "rejected")),
                fields=["wallet", "applied_at", "seq"],
                name="wallet_operations_rejections",
            ),
        ),
        RemoveIndexConcurrently(model_name="walletoperation", name="wallet_operations_kinds"),
        RemoveIndexConcurrently(model_name="walletoperation", name="wallet_operations_rejected"),
        RemoveIndexConcurrently(model_name="walletoperation", name="wallet_operations_history"),
    ]
