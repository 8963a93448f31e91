"""JSON shapes only the API shows (the resources themselves are ``shared.resources``)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.outcomes import OperationStatus
from shared.resources import moment_json, wallet_json
from shared.transfers import TransferState
from web.wallets.money.history import MoneyAt


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
    """An events or deliveries cursor: opaque, a position in 16 bytes (``parsing.parse_cursor``)."""
    return None if after is None else base64.urlsafe_b64encode(after.bytes).rstrip(b"=").decode()


def money_at_json(wallet_id: UUID, at: datetime, money: MoneyAt) -> dict[str, Any]:
    """``GET /api/v1/wallets/<id>?at=``: the wallet's money at ``at``, and the ``position`` of
    its last ledger row decided by then (null: none yet)."""
    body = wallet_json(wallet_id, money.balance, money.held, money.currency)
    return {**body, "at": moment_json(at), "position": money.position}
