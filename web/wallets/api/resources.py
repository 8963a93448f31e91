"""JSON shapes only the API shows (the resources themselves are ``shared.resources``)."""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

from shared.outcomes import OperationStatus
from shared.transfers import TransferState


def transfer_pending_json(transfer_id: UUID) -> dict[str, Any]:
    """A transfer whose debit is still queued (no record yet)."""
    return {
        "transfer_id": str(transfer_id),
        "state": TransferState.PENDING.value,
        "legs": {
            "debit": {"operation_id": str(transfer_id), "status": OperationStatus.PENDING.value},
            "credit": None,
            "refund": None,
        },
    }


def cursor_json(after: UUID | None) -> str | None:
    """A history cursor: opaque, and meaningful for its wallet only (``parsing.parse_cursor``)."""
    return None if after is None else base64.urlsafe_b64encode(after.bytes).rstrip(b"=").decode()
