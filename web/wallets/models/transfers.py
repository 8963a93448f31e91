"""Transfers' records (written by the worker of the source's shard)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Coalesce, Now

from shared.transfers import TransferState
from web.wallets.models.fields import client_metadata, client_reference, currency_code, money
from web.wallets.models.ledger import Wallet
from web.wallets.models.tenants import ApiKey


class Transfer(models.Model):
    """A transfer between two wallets, written by the worker of the source's shard in the
    transaction of the debit (its decision point), and moved on by the legs after it
    (``worker.transfers``): ``pending`` while its money is between the wallets."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="The transfer id (also its debit's operation id)")
    from_wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    to_wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    amount = money()
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
    currency = currency_code()
    # Not a foreign key: a refused reversal is recorded as asked, even one naming nothing.
    reversal_of = models.UUIDField(
        null=True, blank=True, editable=False, help_text="The transfer this one reverses (its money sent back)"
    )
    reference = client_reference()
    metadata = client_metadata()

    class Meta:
        db_table = "transfers"
        indexes = [
            # The sweep's next look (worker.transfers): each pending transfer in turn, by shard.
            models.Index(
                models.F("shard"),
                Coalesce("swept_at", "updated_at"),
                name="transfers_sweep",
                condition=models.Q(state=TransferState.PENDING.value, stalled__isnull=True),
            ),
            # A wallet's money in flight out of it, which its limit keeps room for (worker.apply).
            models.Index(
                fields=["from_wallet"],
                name="transfers_pending_from",
                condition=models.Q(state=TransferState.PENDING.value),
            ),
            # The reversals of a transfer, which the writer of its destination sums (worker.reversals).
            models.Index(
                fields=["reversal_of"], name="transfers_reversals", condition=models.Q(reversal_of__isnull=False)
            ),
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
