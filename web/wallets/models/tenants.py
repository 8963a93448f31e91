"""Tenants and their API keys."""

from __future__ import annotations

from uuid import uuid4

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Now

from shared.rates import Limit, RateLimit

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
