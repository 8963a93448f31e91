"""JSON shapes of the API's resources (field names are part of the contract)."""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

from shared.money import format_money
from web.wallets.selectors import OperationRow


def operation_json(row: OperationRow) -> dict[str, Any]:
    return {
        "operation_id": str(row.id),
        "wallet_id": str(row.wallet_id),
        "operationType": row.operation_type.value,
        "amount": format_money(row.amount),
        "status": row.status,
        "balance_after": format_money(row.balance_after),
        "error": row.error,
        "api_key_id": None if row.api_key_id is None else str(row.api_key_id),
        "created_at": row.created_at.isoformat(),
        "applied_at": row.applied_at.isoformat(),
    }


def cursor_json(after: UUID | None) -> str | None:
    """A history cursor: opaque, and meaningful for its wallet only (``parsing.parse_cursor``)."""
    return None if after is None else base64.urlsafe_b64encode(after.bytes).rstrip(b"=").decode()
