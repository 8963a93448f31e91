"""The one kind of foreign key the ledger's tables use for what a row may name: optional,
protected, never edited by hand, and not indexed by Django (each table declares the indexes
its queries need)."""

from __future__ import annotations

from typing import Any

from django.db import models


def optional_reference(to: Any, *, related_name: str = "+", help_text: str = "") -> models.ForeignKey[Any, Any]:
    """A nullable ``ForeignKey`` to ``to`` (a model or its name)."""
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related_name,
        editable=False,
        db_index=False,
        help_text=help_text,
    )
