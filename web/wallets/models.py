"""The schema. Django owns it and its migrations; ``shared.tables`` mirrors it for the workers.

Balances change only in the shard workers, inside the transaction that inserts
the ledger row explaining the change: nothing here writes a balance.
"""

from __future__ import annotations

from uuid import uuid4

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce, Now

from shared.config import Limit, RateLimit
from shared.holds import HoldState
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.transfers import TransferState

SCOPE_CHOICES = [("read", "read only"), ("read,write", "read and write")]


def validate_rate_limit(value: str) -> None:
    try:
        RateLimit.parse(value)
    except ValueError:
        raise ValidationError("Write it as 100/second or 20/10 minutes", code="invalid") from None


def _rate_limit(limit: Limit) -> models.CharField[str | None, str | None]:
    """A key's own rate of ``limit`` (column ``limit.field``; empty: the setting)."""
    return models.CharField(
        max_length=32,
        null=True,
        blank=True,
        validators=[validate_rate_limit],
        help_text=f"{limit.value.capitalize()} this key may send, e.g. 100/second or 20/10 minutes "
        f"(empty: the {limit.field.upper()} setting)",
    )


class Tenant(models.Model):
    """A customer of the service: its API keys reach its wallets and no others."""

    id = models.UUIDField(primary_key=True, default=uuid4, editable=False)
    name = models.SlugField(max_length=64, unique=True)
    wallet_limit = models.IntegerField(
        validators=[MinValueValidator(0)], help_text="Most wallets this tenant may create (a quota)"
    )
    wallet_count = models.IntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "tenants"

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A bearer key of a tenant. Only the SHA-256 of its secret is stored; ``prefix`` is the
    visible start of the secret, for logs and the admin."""

    id = models.UUIDField(primary_key=True, default=uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="api_keys", editable=False)
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.CharField(max_length=32, choices=SCOPE_CHOICES, editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # One per shared.config.Limit, named by its field (shared.tables builds them from Limit and
    # tests/shared/test_tables.py compares the two).
    rate_limit_writes = _rate_limit(Limit.WRITES)
    rate_limit_wallets = _rate_limit(Limit.WALLETS)
    rate_limit_idempotency_keys = _rate_limit(Limit.IDEMPOTENCY_KEYS)

    class Meta:
        db_table = "api_keys"
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.tenant_id})"


OPERATION_TYPE_CHOICES = [(t.value, t.value) for t in OperationType]


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
    balance = models.DecimalField(max_digits=20, decimal_places=2, default=0, db_default=0, editable=False)
    held = models.DecimalField(
        max_digits=20,
        decimal_places=2,
        default=0,
        db_default=0,
        editable=False,
        help_text="Money of active holds: in the balance, not available",
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "wallets"
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="wallets_balance_non_negative"),
            models.CheckConstraint(
                condition=models.Q(held__gte=0) & models.Q(held__lte=models.F("balance")),
                name="wallets_held_within_balance",
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
    )  # indexed by wallet_operations_history
    operation_type = models.CharField(max_length=16, choices=OPERATION_TYPE_CHOICES, editable=False)
    amount = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    status = models.CharField(
        max_length=8,
        choices=[(s.value, s.value) for s in (OperationStatus.APPLIED, OperationStatus.REJECTED)],
        editable=False,
    )
    error = models.TextField(null=True, blank=True, editable=False)
    balance_after = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    held_after = models.DecimalField(
        max_digits=20,
        decimal_places=2,
        default=0,
        db_default=0,
        editable=False,
        help_text="The wallet's held money after it (balance_after less this was available)",
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        db_index=False,
        help_text="The key that sent it (none: API_AUTH=off)",
    )
    transfer = models.ForeignKey(
        "Transfer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legs",
        editable=False,
        db_index=False,
        help_text="The transfer this is a leg of",
    )
    counterparty = models.ForeignKey(
        Wallet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        db_index=False,
        help_text="A transfer leg's other wallet",
    )
    hold = models.ForeignKey(
        "Hold",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
        editable=False,
        db_index=False,
        help_text="The hold this sets up, captures, voids or expires",
    )
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="A hold's expiry, as asked")
    created_at = models.DateTimeField(editable=False, help_text="When the web node accepted it")
    applied_at = models.DateTimeField(db_default=Now(), editable=False, help_text="When the worker committed it")

    class Meta:
        db_table = "wallet_operations"
        indexes = [models.Index(models.F("wallet"), models.F("seq").desc(), name="wallet_operations_history")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="wallet_operations_amount_positive"),
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
    amount = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
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


class Transfer(models.Model):
    """A transfer between two wallets, written by the worker of the source's shard in the
    transaction of the debit (its decision point), and moved on by the legs after it
    (``worker.transfers``): ``pending`` while its money is between the wallets."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="The transfer id (also its debit's operation id)")
    from_wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    to_wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    amount = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    shard = models.SmallIntegerField(editable=False, help_text="The source's shard, whose worker settles it")
    state = models.CharField(max_length=16, choices=[(s.value, s.value) for s in TransferState], editable=False)
    error = models.TextField(null=True, blank=True, editable=False)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False, db_index=False
    )
    created_at = models.DateTimeField(editable=False, help_text="When the web node accepted it")
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    swept_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the sweep last looked at it while pending"
    )
    stalled = models.TextField(
        null=True,
        blank=True,
        editable=False,
        help_text="Why the sweep set it aside, pending, for an operator (null while the sweep moves it on)",
    )

    class Meta:
        db_table = "transfers"
        indexes = [
            # The sweep's next look (worker.transfers): each pending transfer in turn, by shard.
            models.Index(
                models.F("shard"),
                Coalesce("swept_at", "updated_at"),
                name="transfers_sweep",
                condition=models.Q(state="pending", stalled__isnull=True),
            ),
            # A wallet's money in flight out of it, which its limit keeps room for (worker.apply).
            models.Index(fields=["from_wallet"], name="transfers_pending_from", condition=models.Q(state="pending")),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="transfers_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(from_wallet=models.F("to_wallet")), name="transfers_distinct_wallets"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=[s.value for s in TransferState]), name="transfers_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.from_wallet_id} -> {self.to_wallet_id} ({self.state})"


HOLD_STATES = [s.value for s in HoldState]


class Hold(models.Model):
    """Money of a wallet set aside until it is captured, voided or expires; written only by
    the worker of the wallet's shard (``worker.holds``)."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="The hold id (also its HOLD operation's id)")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="holds", editable=False, db_index=False)
    to_wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False, db_index=False
    )
    amount = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    captured = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True, editable=False)
    resolved_by = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        help_text="The operation that captured, voided or expired it (a capture to a wallet: also its transfer)",
    )
    state = models.CharField(max_length=16, choices=[(s, s) for s in HOLD_STATES], editable=False)
    shard = models.SmallIntegerField(editable=False)
    expires_at = models.DateTimeField(editable=False)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False, db_index=False
    )
    created_at = models.DateTimeField(editable=False, help_text="When the web node accepted it")
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "holds"
        indexes = [
            models.Index(
                fields=["shard", "expires_at"], name="holds_active", condition=models.Q(state=HoldState.ACTIVE.value)
            )
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="holds_amount_positive"),
            models.CheckConstraint(condition=models.Q(state__in=HOLD_STATES), name="holds_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} of {self.wallet_id} ({self.state})"
