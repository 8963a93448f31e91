"""The client's ``reference`` and ``metadata`` (``shared.annotations``) on every row a write
makes: wallets, ledger rows, pending operations, transfers and holds. Nullable columns without
a default rewrite no table."""

from django.db import migrations, models

_TABLES = ["hold", "pendingoperation", "transfer", "wallet", "walletoperation"]


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0012_reversals"),
    ]

    operations = [
        operation
        for model_name in _TABLES
        for operation in (
            migrations.AddField(
                model_name=model_name,
                name="reference",
                field=models.CharField(
                    blank=True, editable=False, help_text="The client's own id", max_length=128, null=True
                ),
            ),
            migrations.AddField(
                model_name=model_name,
                name="metadata",
                field=models.JSONField(
                    blank=True, editable=False, help_text="The client's key-value strings", null=True
                ),
            ),
        )
    ]
