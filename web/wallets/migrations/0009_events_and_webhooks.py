"""Events (the outbox) and webhook endpoints, deliveries and attempts.

``events.seq`` is an identity column and ``events.txid`` the writing transaction's id
(``xid8``), neither of which Django can declare: the database side adds them with SQL, with the
feed's indexes in ``shared.events.EVENT_ORDER`` (by tenant, by wallet, by counterparty).
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
import django.db.models.functions.datetime
import uuid
import web.wallets.models.events
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0008_api_key_rate_limits'),
    ]

    operations = [
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ('type', models.CharField(choices=[('wallet.created', 'wallet.created'), ('operation.applied', 'operation.applied'), ('operation.rejected', 'operation.rejected'), ('transfer.completed', 'transfer.completed'), ('transfer.failed', 'transfer.failed'), ('hold.created', 'hold.created'), ('hold.captured', 'hold.captured'), ('hold.voided', 'hold.voided'), ('hold.expired', 'hold.expired')], editable=False, max_length=32)),
                ('tenant_id', models.UUIDField(blank=True, editable=False, null=True)),
                ('wallet_id', models.UUIDField(editable=False, help_text='The wallet whose writer recorded it')),
                ('counterparty_id', models.UUIDField(blank=True, editable=False, help_text="A transfer's other wallet", null=True)),
                ('operation_id', models.UUIDField(blank=True, editable=False, help_text='The ledger row it is (none: wallet.created)', null=True)),
                ('created', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
                ('data', web.wallets.models.events.RawJSONField(blank=True, editable=False, help_text='The resource as it was (none: an operation, rendered from its ledger row, which never changes)', null=True)),
            ],
            options={
                'db_table': 'events',
                'indexes': [django.contrib.postgres.indexes.BrinIndex(fields=['created'], name='events_created')],
                'constraints': [models.CheckConstraint(condition=models.Q(('type__in', ['wallet.created', 'operation.applied', 'operation.rejected', 'transfer.completed', 'transfer.failed', 'hold.created', 'hold.captured', 'hold.voided', 'hold.expired'])), name='events_type_valid')],
            },
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL,"
                    " ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()",
                    reverse_sql="ALTER TABLE events DROP COLUMN seq, DROP COLUMN txid",
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name='event',
                    name='seq',
                    field=models.BigIntegerField(editable=False, help_text="Its row's order within its transaction"),
                ),
            ],
        ),
        migrations.RunSQL(
            [
                "CREATE INDEX events_tenant_feed ON events (tenant_id, txid, seq)",
                "CREATE INDEX events_wallet_feed ON events (wallet_id, txid, seq)",
                "CREATE INDEX events_counterparty_feed ON events (counterparty_id, txid, seq)"
                " WHERE counterparty_id IS NOT NULL",
            ],
            reverse_sql=[
                "DROP INDEX events_tenant_feed",
                "DROP INDEX events_wallet_feed",
                "DROP INDEX events_counterparty_feed",
            ],
        ),
        migrations.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('url', models.CharField(editable=False, max_length=2048)),
                ('event_types', models.CharField(blank=True, default='', editable=False, help_text='Space-separated (empty: every type)', max_length=512)),
                ('status', models.CharField(choices=[('enabled', 'enabled'), ('disabled', 'disabled')], editable=False, max_length=16)),
                ('disabled_reason', models.TextField(blank=True, editable=False, null=True)),
                ('secret', models.CharField(editable=False, max_length=128)),
                ('previous_secret', models.CharField(blank=True, editable=False, max_length=128, null=True)),
                ('previous_secret_until', models.DateTimeField(blank=True, editable=False, null=True)),
                ('cursor_txid', models.BigIntegerField(editable=False, help_text='The last event dispatched: its transaction')),
                ('cursor_seq', models.BigIntegerField(editable=False, help_text='The last event dispatched: its row')),
                ('failing_since', models.DateTimeField(blank=True, editable=False, help_text='Its first failed attempt since its last success', null=True)),
                ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
                ('deleted_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('api_key', models.ForeignKey(blank=True, db_index=False, editable=False, help_text='The key that registered it', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallets.apikey')),
                ('tenant', models.ForeignKey(blank=True, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallets.tenant')),
            ],
            options={
                'db_table': 'webhook_endpoints',
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('event_id', models.UUIDField(editable=False)),
                ('event_created', models.DateTimeField(editable=False)),
                ('state', models.CharField(choices=[('pending', 'pending'), ('delivered', 'delivered'), ('failed', 'failed')], editable=False, max_length=16)),
                ('attempts', models.IntegerField(db_default=0, default=0, editable=False)),
                ('next_attempt_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('claim', models.UUIDField(blank=True, editable=False, help_text='The job that may send it now', null=True)),
                ('claimed_until', models.DateTimeField(blank=True, editable=False, null=True)),
                ('delivered_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
                ('endpoint', models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='wallets.webhookendpoint')),
            ],
            options={
                'verbose_name_plural': 'webhook deliveries',
                'db_table': 'webhook_deliveries',
            },
        ),
        migrations.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('event_id', models.UUIDField(editable=False)),
                ('attempt', models.IntegerField(editable=False)),
                ('at', models.DateTimeField(editable=False)),
                ('status_code', models.IntegerField(blank=True, editable=False, null=True)),
                ('error', models.TextField(blank=True, editable=False, help_text='Why no answer came', null=True)),
                ('latency_ms', models.IntegerField(editable=False)),
                ('next_attempt_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('delivery', models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='attempt_log', to='wallets.webhookdelivery')),
                ('endpoint', models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallets.webhookendpoint')),
            ],
            options={
                'db_table': 'webhook_attempts',
            },
        ),
        migrations.AddIndex(
            model_name='webhookendpoint',
            index=models.Index(fields=['tenant', 'created_at'], name='webhook_endpoints_tenant'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('state', 'pending')), fields=['next_attempt_at'], name='webhook_deliveries_due'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['event_created'], name='webhook_deliveries_age'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.UniqueConstraint(fields=('endpoint', 'event_id'), name='webhook_deliveries_once'),
        ),
        migrations.AddIndex(
            model_name='webhookattempt',
            index=models.Index(models.F('endpoint'), models.OrderBy(models.F('id'), descending=True), name='webhook_attempts_endpoint'),
        ),
        migrations.AddIndex(
            model_name='webhookattempt',
            index=models.Index(fields=['delivery'], name='webhook_attempts_delivery'),
        ),
    ]
