"""The kinds of column the ledger's tables share: money (``shared.money``'s scale), a currency,
the client's reference and metadata, and the foreign key for what a row may name (optional,
protected, never edited by hand, and not indexed by Django: each table declares the indexes its
queries need)."""

from __future__ import annotations

from typing import Any

from django.db import models

from shared.annotations import REFERENCE_MAX
from shared.money import MONEY_DIGITS, MONEY_SCALE


def money(**options: Any) -> models.DecimalField[Any, Any]:
    """An amount or balance, never edited by hand."""
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_SCALE, editable=False, **options)


def currency_code(**options: Any) -> models.CharField[Any, Any]:
    """The ISO 4217 code of a wallet's money, never edited by hand."""
    return models.CharField(max_length=3, editable=False, help_text="ISO 4217 code", **options)


def optional_reference(
    to: Any, *, related_name: str = "+", help_text: str = "", db_column: str | None = None
) -> models.ForeignKey[Any, Any]:
    """A nullable ``ForeignKey`` to ``to`` (a model or its name), in the column ``<name>_id``
    unless ``db_column`` names another."""
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related_name,
        editable=False,
        db_index=False,
        help_text=help_text,
        db_column=db_column,
    )


def client_reference() -> models.CharField[Any, Any]:
    """A write's ``reference``, the client's own id of it (``shared.annotations``)."""
    return models.CharField(
        max_length=REFERENCE_MAX, null=True, blank=True, editable=False, help_text="The client's own id"
    )


def client_metadata() -> models.JSONField[Any, Any]:
    """A write's ``metadata``, the client's strings (``shared.annotations``)."""
    return models.JSONField(null=True, blank=True, editable=False, help_text="The client's key-value strings")
