"""A wallet's metadata may be replaced by a change (``PATCH``, ``shared.wallet_controls``): the
metadata it was made with is kept in ``created_metadata``, as every wallet made so far still has
it (no change could name metadata before)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0014_history_filters"),
    ]

    operations = [
        migrations.AddField(
            model_name="wallet",
            name="created_metadata",
            field=models.JSONField(blank=True, editable=False, help_text="Its metadata as made", null=True),
        ),
        migrations.RunSQL(
            "UPDATE wallets SET created_metadata = metadata WHERE metadata IS NOT NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
