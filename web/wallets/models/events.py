"""Events (the outbox the writers of money fill) and webhook endpoints with their deliveries.

``events`` has no foreign keys: an event names what its ledger row (or its wallet's insert)
names, in the same transaction, and is pruned after ``EVENT_RETENTION_DAYS``; a key checked per
event would be paid by every operation on the hot path. Its ``seq`` and ``txid`` columns are
added by the migration (Django cannot declare an identity column nor ``xid8``).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models.functions import Now

from shared.events import EventType
from shared.webhooks import DeliveryState, EndpointStatus
from web.wallets.models.fields import optional_reference
from web.wallets.models.tenants import ApiKey, Tenant

EVENT_TYPES = [t.value for t in EventType]


class RawJSONField(models.TextField):  # type: ignore[type-arg]
    """JSON stored as written (PostgreSQL's ``json``): its keys keep their order, as sent."""

    def db_type(self, connection: Any) -> str:
        return "json"


class Event(models.Model):
    """Something that happened to a tenant's money, as it happened (``shared.events``)."""

    id = models.UUIDField(primary_key=True, editable=False)
    seq = models.BigIntegerField(editable=False, help_text="Its row's order within its transaction")
    type = models.CharField(max_length=32, choices=[(t, t) for t in EVENT_TYPES], editable=False)
    tenant_id = models.UUIDField(null=True, blank=True, editable=False)
    wallet_id = models.UUIDField(editable=False, help_text="The wallet whose writer recorded it")
    counterparty_id = models.UUIDField(null=True, blank=True, editable=False, help_text="A transfer's other wallet")
    operation_id = models.UUIDField(
        null=True, blank=True, editable=False, help_text="The ledger row it is (none: wallet.created)"
    )
    created = models.DateTimeField(db_default=Now(), editable=False)
    data = RawJSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The resource as it was (none: an operation, rendered from its ledger row, which never changes)",
    )

    class Meta:
        db_table = "events"
        indexes = [BrinIndex(fields=["created"], name="events_created")]
        constraints = [models.CheckConstraint(condition=models.Q(type__in=EVENT_TYPES), name="events_type_valid")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookEndpoint(models.Model):
    """A tenant's URL that receives its events, signed with its secret."""

    id = models.UUIDField(primary_key=True, default=uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False, db_index=False
    )
    url = models.CharField(max_length=2048, editable=False)
    event_types = models.CharField(
        max_length=512, blank=True, default="", editable=False, help_text="Space-separated (empty: every type)"
    )
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in EndpointStatus], editable=False)
    disabled_reason = models.TextField(null=True, blank=True, editable=False)
    secret = models.CharField(max_length=128, editable=False)
    previous_secret = models.CharField(max_length=128, null=True, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    api_key = optional_reference(ApiKey, help_text="The key that registered it")
    cursor_txid = models.BigIntegerField(editable=False, help_text="The last event dispatched: its transaction")
    cursor_seq = models.BigIntegerField(editable=False, help_text="The last event dispatched: its row")
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Its first failed attempt since its last success"
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "webhook_endpoints"
        indexes = [models.Index(fields=["tenant", "created_at"], name="webhook_endpoints_tenant")]

    def __str__(self) -> str:
        return f"{self.url} ({self.status})"


class WebhookDelivery(models.Model):
    """One event to one endpoint, until a 2xx or the end of the retry schedule."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries", editable=False, db_index=False
    )
    event_id = models.UUIDField(editable=False)
    event_created = models.DateTimeField(editable=False)
    state = models.CharField(max_length=16, choices=[(s.value, s.value) for s in DeliveryState], editable=False)
    attempts = models.IntegerField(default=0, db_default=0, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    claim = models.UUIDField(null=True, blank=True, editable=False, help_text="The job that may send it now")
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "webhook_deliveries"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_deliveries_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_deliveries_due",
                condition=models.Q(state=DeliveryState.PENDING.value),
            ),
            BrinIndex(fields=["event_created"], name="webhook_deliveries_age"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, and what came of it."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.PROTECT, related_name="attempt_log", editable=False, db_index=False
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False
    )
    event_id = models.UUIDField(editable=False)
    attempt = models.IntegerField(editable=False)
    at = models.DateTimeField(editable=False)
    status_code = models.IntegerField(null=True, blank=True, editable=False)
    error = models.TextField(null=True, blank=True, editable=False, help_text="Why no answer came")
    latency_ms = models.IntegerField(editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "webhook_attempts"
        indexes = [
            models.Index(models.F("endpoint"), models.F("id").desc(), name="webhook_attempts_endpoint"),
            models.Index(fields=["delivery"], name="webhook_attempts_delivery"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.event_id}"
