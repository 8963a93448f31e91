"""JSON shapes of the API's resources (field names are part of the contract)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.holds import HoldState
from shared.ledger import LedgerRecord
from shared.money import format_money
from shared.outcomes import OperationStatus
from shared.transfers import TransferState, credit_id, refund_id
from web.wallets.error_codes import ledger_error_fields
from web.wallets.money.selectors import HoldRow, TransferRow


def operation_json(row: LedgerRecord) -> dict[str, Any]:
    return {
        "operation_id": str(row.id),
        "wallet_id": str(row.wallet_id),
        "operationType": row.operation_type.value,
        "amount": format_money(row.amount),
        "status": row.status,
        "balance_after": format_money(row.balance_after),
        **ledger_error_fields(row.error),
        "api_key_id": _text(row.api_key_id),
        "transfer_id": _text(row.transfer_id),
        "counterparty_wallet_id": _text(row.counterparty_id),
        "hold_id": _text(row.hold_id),
        "held_after": format_money(row.held_after),
        "created_at": row.created_at.isoformat(),
        "applied_at": row.applied_at.isoformat(),
    }


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _leg_json(operation_id: UUID, leg: LedgerRecord | None) -> dict[str, Any]:
    if leg is None:
        return {"operation_id": str(operation_id), "status": OperationStatus.PENDING.value}
    return {"operation_id": str(leg.id), "status": leg.status, **ledger_error_fields(leg.error)}


def transfer_json(row: TransferRow) -> dict[str, Any]:
    """``GET /api/v1/transfers/<id>``: the record and its legs (a leg not in the ledger yet is
    ``pending``; the refund is null unless the destination refused the credit)."""
    refund = None
    if row.refund is not None or (row.credit is not None and row.credit.status == OperationStatus.REJECTED.value):
        refund = _leg_json(refund_id(row.id), row.refund)
    credit = None
    if row.debit is not None and row.debit.status == OperationStatus.APPLIED.value:
        credit = _leg_json(credit_id(row.id), row.credit)
    return {
        "transfer_id": str(row.id),
        "from": str(row.from_wallet),
        "to": str(row.to_wallet),
        "amount": format_money(row.amount),
        "state": row.state.value,
        **ledger_error_fields(row.error),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "legs": {"debit": _leg_json(row.id, row.debit), "credit": credit, "refund": refund},
    }


def transfer_pending_json(transfer_id: UUID) -> dict[str, Any]:
    """A transfer whose debit is still queued (no record yet)."""
    return {
        "transfer_id": str(transfer_id),
        "state": TransferState.PENDING.value,
        "legs": {"debit": _leg_json(transfer_id, None), "credit": None, "refund": None},
    }


def cursor_json(after: UUID | None) -> str | None:
    """A history cursor: opaque, and meaningful for its wallet only (``parsing.parse_cursor``)."""
    return None if after is None else base64.urlsafe_b64encode(after.bytes).rstrip(b"=").decode()


def moment_json(value: datetime) -> str:
    """A time as the API writes it: ISO 8601 in UTC (the same whoever reads it back)."""
    return value.astimezone(UTC).isoformat()


def hold_json(row: HoldRow) -> dict[str, Any]:
    """``GET /api/v1/holds/<id>``. ``captured`` is set once captured; ``transfer_id`` is the
    transfer a capture to a wallet became."""
    captured_to = row.state == HoldState.CAPTURED and row.to_wallet_id is not None
    return {
        "hold_id": str(row.id),
        "wallet_id": str(row.wallet_id),
        "to": _text(row.to_wallet_id),
        "amount": format_money(row.amount),
        "state": row.state,
        "captured": None if row.captured is None else format_money(row.captured),
        "expires_at": moment_json(row.expires_at),
        "resolved_by": _text(row.resolved_by),
        "transfer_id": _text(row.resolved_by) if captured_to else None,
        "created_at": moment_json(row.created_at),
        "updated_at": moment_json(row.updated_at),
    }
