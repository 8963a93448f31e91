"""Wallets, their ledger (one row per decided operation) and the operations answered 202."""

from __future__ import annotations

from uuid import uuid4

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now

from shared.operations import WALLET_UPDATES, OperationType
from shared.outcomes import OperationStatus
from shared.wallet_controls import WalletStatus
from web.wallets.models.fields import client_metadata, client_reference, currency_code, money, optional_reference
from web.wallets.models.tenants import ApiKey, Tenant

OPERATION_TYPE_CHOICES = [(t.value, t.value) for t in OperationType]
WALLET_STATUS_CHOICES = [(s.value, s.value) for s in WalletStatus]


class Wallet(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallets",
        editable=False,
        help_text="Whose keys reach it (none: created with API_AUTH=off)",
    )
    balance = money(default=0, db_default=0)
    held = money(default=0, db_default=0, help_text="Money of active holds: in the balance, not available")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    currency = currency_code()
    # Its controls (shared.wallet_controls): changed only by its writer, in order with its money.
    min_balance = money(default=0, db_default=0, help_text="Lowest available money a debit may leave (<0: overdraft)")
    max_balance = money(null=True, blank=True, help_text="Highest balance a credit may reach (none: no limit)")
    status = models.CharField(
        max_length=8, choices=WALLET_STATUS_CHOICES, default="active", db_default="active", editable=False
    )
    reference = client_reference()
    metadata = client_metadata()
    # The metadata it was made with: what its metadata is until a change names some
    # (shared.wallet_controls), so the answer to any change can be told again.
    created_metadata = models.JSONField(null=True, blank=True, editable=False, help_text="Its metadata as made")

    class Meta:
        db_table = "wallets"
        # Not balance >= min_balance: a limit may be lowered below the money a wallet has, and
        # only refuses further movement that way. The ledger audit checks each debit and credit
        # against the limits as they stood (shared.audit.limit_crossings).
        constraints = [
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="wallets_currency_code"),
            models.CheckConstraint(condition=models.Q(held__gte=0), name="wallets_held_non_negative"),
            models.CheckConstraint(condition=models.Q(min_balance__lte=0), name="wallets_min_balance_not_positive"),
            models.CheckConstraint(condition=models.Q(max_balance__gte=0), name="wallets_max_balance_non_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in WalletStatus]), name="wallets_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class WalletOperation(models.Model):
    """One ledger row per operation a worker decided: applied or rejected."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="The operation id")
    # Identity column added in migration 0001: the order in which the writer decided.
    seq = models.BigIntegerField(unique=True, editable=False)
    wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, related_name="operations", editable=False, db_index=False
    )  # indexed by wallet_operations_timeline
    operation_type = models.CharField(max_length=16, choices=OPERATION_TYPE_CHOICES, editable=False)
    amount = money()
    status = models.CharField(
        max_length=8,
        choices=[(s.value, s.value) for s in (OperationStatus.APPLIED, OperationStatus.REJECTED)],
        editable=False,
    )
    error = models.TextField(null=True, blank=True, editable=False)
    balance_after = money()
    held_after = money(
        default=0, db_default=0, help_text="The wallet's held money after it (balance_after less this was available)"
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)
    api_key = optional_reference(ApiKey, help_text="The key that sent it (none: API_AUTH=off)")
    transfer = optional_reference("Transfer", related_name="legs", help_text="The transfer this is a leg of")
    counterparty = optional_reference(Wallet, help_text="A transfer leg's other wallet")
    hold = optional_reference(
        "Hold", related_name="changes", help_text="The hold this sets up, captures, voids or expires"
    )
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="A hold's expiry, as asked")
    created_at = models.DateTimeField(editable=False, help_text="When the web node accepted it")
    applied_at = models.DateTimeField(db_default=Now(), editable=False, help_text="When the worker committed it")
    currency = currency_code()
    change = models.JSONField(
        null=True, blank=True, editable=False, help_text="A wallet update's change of its limits or status"
    )
    # Not a foreign key: a refused reversal is recorded as asked, even one naming nothing.
    reversal_of = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        help_text="What it reverses: a reversal's operation, or a reversing transfer leg's transfer",
    )
    reference = client_reference()
    metadata = client_metadata()

    class Meta:
        db_table = "wallet_operations"
        indexes = [
            # A wallet's rows in ledger order, which is their time's (web.wallets.money.history):
            # pages, spans of time, the balance at an instant, statements.
            models.Index(fields=["wallet", "applied_at", "seq"], name="wallet_operations_timeline"),
            # History's filters: each served by an index leading with the wallet and ending in
            # the same order, or by one that holds only rows a filter can match (a client's
            # reference or metadata), so no page scans the rest of a wallet's ledger.
            models.Index(fields=["wallet", "operation_type", "applied_at", "seq"], name="wallet_operations_by_type"),
            models.Index(
                fields=["wallet", "applied_at", "seq"],
                name="wallet_operations_rejections",
                condition=models.Q(status=OperationStatus.REJECTED.value),
            ),
            models.Index(
                fields=["reference", "wallet"],
                name="wallet_operations_reference",
                condition=models.Q(reference__isnull=False),
            ),
            # A wallet's rows holding metadata pairs (uuid_ops is btree_gin's, migration 0016).
            GinIndex(
                fields=["wallet", "metadata"],
                opclasses=["uuid_ops", "jsonb_path_ops"],
                name="wallet_operations_pairs",
                condition=models.Q(metadata__isnull=False),
            ),
            # The reversals of an operation, which its writer sums (worker.reversals).
            models.Index(
                fields=["reversal_of"],
                name="wallet_operations_reversals",
                condition=models.Q(reversal_of__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0)
                | models.Q(amount=0, operation_type__in=[t.value for t in WALLET_UPDATES]),
                name="wallet_operations_amount_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(operation_type__in=[t.value for t in OperationType]),
                name="wallet_operations_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[OperationStatus.APPLIED.value, OperationStatus.REJECTED.value]),
                name="wallet_operations_status_valid",
            ),
            # An Idempotency-Key names one operation of its wallet, for good.
            models.UniqueConstraint(
                fields=["wallet", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="wallet_operations_idempotency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation_type} {self.amount} ({self.status})"


class PendingOperation(models.Model):
    """An operation answered ``202``, recorded before the answer: whatever Redis loses, the
    shard's worker applies it from here (``worker.pending``) or finds it already decided. The
    fast path (answered after its commit) never writes one."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="The operation id")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    shard = models.SmallIntegerField(editable=False)
    operation_type = models.CharField(max_length=16, choices=OPERATION_TYPE_CHOICES, editable=False)
    amount = money()
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, null=True, related_name="+", editable=False, db_index=False
    )
    counterparty = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, null=True, related_name="+", editable=False, db_index=False
    )
    hold_id = models.UUIDField(null=True, editable=False)
    expires_at = models.DateTimeField(null=True, editable=False)
    created_at = models.DateTimeField(editable=False, help_text="When the web node accepted it")
    recorded_at = models.DateTimeField(db_default=Now(), editable=False)
    settled_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="When a worker settled it")
    currency = currency_code()
    change = models.JSONField(null=True, editable=False)
    reversal_of = models.UUIDField(null=True, editable=False)
    reference = client_reference()
    metadata = client_metadata()

    class Meta:
        db_table = "pending_operations"
        indexes = [
            models.Index(
                fields=["shard", "recorded_at"],
                name="pending_operations_unsettled",
                condition=models.Q(settled_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation_type} {self.amount} (pending)"
