"""Initial schema.

``wallet_operations.seq`` is an identity column, which Django cannot declare: the
database side adds it with SQL while the model state declares a plain BigIntegerField.
"""

import django.db.models.deletion
import django.db.models.functions.datetime
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Wallet',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('balance', models.DecimalField(db_default=0, decimal_places=2, default=0, editable=False, max_digits=20)),
                ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
                ('updated_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
            ],
            options={
                'db_table': 'wallets',
                'constraints': [models.CheckConstraint(condition=models.Q(('balance__gte', 0)), name='wallets_balance_non_negative')],
            },
        ),
        migrations.CreateModel(
            name='WalletOperation',
            fields=[
                ('id', models.UUIDField(editable=False, help_text='The operation id', primary_key=True, serialize=False)),
                ('operation_type', models.CharField(choices=[('DEPOSIT', 'DEPOSIT'), ('WITHDRAW', 'WITHDRAW')], editable=False, max_length=8)),
                ('amount', models.DecimalField(decimal_places=2, editable=False, max_digits=20)),
                ('status', models.CharField(choices=[('applied', 'applied'), ('rejected', 'rejected')], editable=False, max_length=8)),
                ('error', models.TextField(blank=True, editable=False, null=True)),
                ('balance_after', models.DecimalField(decimal_places=2, editable=False, max_digits=20)),
                ('idempotency_key', models.CharField(blank=True, editable=False, max_length=255, null=True)),
                ('created_at', models.DateTimeField(editable=False, help_text='When the web node accepted it')),
                ('applied_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False, help_text='When the worker committed it')),
                ('wallet', models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='operations', to='wallets.wallet')),
            ],
            options={
                'db_table': 'wallet_operations',
                'constraints': [models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='wallet_operations_amount_positive'), models.CheckConstraint(condition=models.Q(('operation_type__in', ['DEPOSIT', 'WITHDRAW'])), name='wallet_operations_type_valid'), models.CheckConstraint(condition=models.Q(('status__in', ['applied', 'rejected'])), name='wallet_operations_status_valid')],
            },
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE wallet_operations ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL"
                    " CONSTRAINT wallet_operations_seq_key UNIQUE",
                    reverse_sql="ALTER TABLE wallet_operations DROP COLUMN seq",
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name='walletoperation',
                    name='seq',
                    field=models.BigIntegerField(editable=False, unique=True),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='walletoperation',
            index=models.Index(models.F('wallet'), models.OrderBy(models.F('seq'), descending=True), name='wallet_operations_history'),
        ),
    ]
