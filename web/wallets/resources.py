"""JSON shapes of the API's resources (field names are part of the contract)."""

from __future__ import annotations

from typing import Any

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
        "created_at": row.created_at.isoformat(),
        "applied_at": row.applied_at.isoformat(),
    }
