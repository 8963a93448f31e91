"""A metadata filter reads the rows of one wallet holding its pairs (``web.wallets.money.history``):
the GIN index of the metadata leads with the wallet, so a pair that other wallets use often costs
this one's page nothing. GIN indexes a uuid with ``btree_gin``'s operator class. Built
concurrently, as 0014's: a busy ledger keeps taking writes (so this migration is not atomic)."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently, BtreeGinExtension, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("wallets", "0015_wallet_metadata_changes"),
    ]

    operations = [
        BtreeGinExtension(),
        AddIndexConcurrently(
            model_name="walletoperation",
            index=GinIndex(
                condition=models.Q(("metadata__isnull", False)),
                fields=["wallet", "metadata"],
                name="wallet_operations_pairs",
                opclasses=["uuid_ops", "jsonb_path_ops"],
            ),
        ),
        RemoveIndexConcurrently(model_name="walletoperation", name="wallet_operations_metadata"),
    ]
