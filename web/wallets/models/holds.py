"""Holds (written by the worker of their wallet's shard)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from shared.holds import HoldState
from web.wallets.models.fields import client_metadata, client_reference, currency_code, money, optional_reference
from web.wallets.models.ledger import Wallet
from web.wallets.models.tenants import ApiKey

HOLD_STATES = [s.value for s in HoldState]


class Hold(models.Model):
    """Money of a wallet set aside until it is captured, voided or expires; written only by
    the worker of the wallet's shard (``worker.holds``)."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="The hold id (also its HOLD operation's id)")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="holds", editable=False, db_index=False)
    to_wallet = optional_reference(Wallet)
    amount = money()
    captured = money(null=True, blank=True)
    resolved_by = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        help_text="The operation that captured, voided or expired it (a capture to a wallet: also its transfer)",
    )
    state = models.CharField(max_length=16, choices=[(s, s) for s in HOLD_STATES], editable=False)
    shard = models.SmallIntegerField(editable=False)
    expires_at = models.DateTimeField(editable=False)
    api_key = optional_reference(ApiKey)
    created_at = models.DateTimeField(editable=False, help_text="When the web node accepted it")
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    currency = currency_code()
    reference = client_reference()
    metadata = client_metadata()

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
