"""JSON shapes of the API's resources (field names are part of the contract), in one home for
the two that render them: the API's views, and the shard worker that writes each event's
``data`` (``shared.events``) in the transaction that moves the money. An event's data is the
resource as the API would have shown it at that instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from shared.annotations import Annotations, Metadata
from shared.holds import HoldState
from shared.ledger import LedgerRecord
from shared.money import format_money
from shared.outcomes import OperationStatus, ledger_error_fields
from shared.transfers import TransferState, credit_id, refund_id
from shared.wallet_controls import Controls


def moment_json(value: datetime) -> str:
    """A time as the API writes it: ISO 8601 in UTC (the same whoever reads it back)."""
    return value.astimezone(UTC).isoformat()


def uuid_text(value: UUID | None) -> str | None:
    """An id as JSON and psycopg2 take it (a string), or None."""
    return None if value is None else str(value)


def wallet_json(
    wallet_id: UUID,
    balance: Decimal,
    held: Decimal,
    currency: str,
    controls: Controls | None = None,
    annotations: Annotations | None = None,
) -> dict[str, Any]:
    """``GET /api/v1/wallets/<id>``: its money (``available`` = ``balance`` - ``held``), in its
    currency, its ``controls`` (limits and status) and the client's ``reference`` and
    ``metadata`` (an event's ``wallet`` shows the money alone)."""
    body = {
        "id": str(wallet_id),
        "currency": currency,
        "balance": format_money(balance, currency),
        "available": format_money(balance - held, currency),
        "held": format_money(held, currency),
    }
    if controls is not None:
        body.update(controls.to_json(currency))
    if annotations is not None:
        body.update(annotations.as_fields())
    return body


def operation_json(row: LedgerRecord) -> dict[str, Any]:
    """``GET /api/v1/operations/<id>``: one ledger row. ``position`` is its place in the ledger,
    increasing along each wallet's operations (the order its writer decided them in)."""
    return {
        "operation_id": str(row.id),
        "wallet_id": str(row.wallet_id),
        "operationType": row.operation_type.value,
        "amount": format_money(row.amount, row.currency),
        "currency": row.currency,
        "status": row.status,
        "balance_after": format_money(row.balance_after, row.currency),
        **ledger_error_fields(row.error),
        "api_key_id": uuid_text(row.api_key_id),
        "transfer_id": uuid_text(row.transfer_id),
        "counterparty_wallet_id": uuid_text(row.counterparty_id),
        "hold_id": uuid_text(row.hold_id),
        "held_after": format_money(row.held_after, row.currency),
        "available_after": format_money(row.balance_after - row.held_after, row.currency),
        "change": None if row.change is None else row.change.shown(row.currency),
        "reversal_of": uuid_text(row.reversal_of),
        "reference": row.reference,
        "metadata": row.metadata,
        "position": row.seq,
        "created_at": moment_json(row.created_at),
        "applied_at": moment_json(row.applied_at),
    }


class Leg(Protocol):
    """A transfer leg as the ledger recorded it (a ``LedgerRecord``, or what a worker decided)."""

    @property
    def id(self) -> UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class LegDecided:
    """A leg as a worker decided it, before its row is read back."""

    id: UUID
    status: str
    error: str | None


@dataclass(frozen=True, slots=True)
class TransferRow:
    """A transfer's record and its legs found in the ledger."""

    id: UUID
    from_wallet: UUID
    to_wallet: UUID
    amount: Decimal
    state: TransferState
    error: str | None
    created_at: datetime
    updated_at: datetime
    debit: Leg | None
    credit: Leg | None
    refund: Leg | None
    currency: str
    reversal_of: UUID | None
    """The transfer it reverses, if it is a reversal."""
    reference: str | None
    metadata: Metadata | None
    """The client's, as its request sent them (every leg has them too)."""


def _leg_json(operation_id: UUID, leg: Leg | None) -> dict[str, Any]:
    if leg is None:
        return {"operation_id": str(operation_id), "status": OperationStatus.PENDING.value}
    return {"operation_id": str(leg.id), "status": str(leg.status), **ledger_error_fields(leg.error)}


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
        "amount": format_money(row.amount, row.currency),
        "currency": row.currency,
        "state": row.state.value,
        **ledger_error_fields(row.error),
        "created_at": moment_json(row.created_at),
        "updated_at": moment_json(row.updated_at),
        "legs": {"debit": _leg_json(row.id, row.debit), "credit": credit, "refund": refund},
        "reversal_of": uuid_text(row.reversal_of),
        "reference": row.reference,
        "metadata": row.metadata,
    }


@dataclass(frozen=True, slots=True)
class HoldRow:
    """A hold the worker of its wallet's shard has made."""

    id: UUID
    wallet_id: UUID
    to_wallet_id: UUID | None
    amount: Decimal
    captured: Decimal | None
    state: str
    resolved_by: UUID | None
    """The operation that captured, voided or expired it (of a capture to a wallet, its transfer)."""
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    currency: str
    reference: str | None
    metadata: Metadata | None
    """The hold's own, as its request sent them (a capture's or void's are on its ledger row)."""


def hold_json(row: HoldRow) -> dict[str, Any]:
    """``GET /api/v1/holds/<id>``. ``captured`` is set once captured; ``transfer_id`` is the
    transfer a capture to a wallet became."""
    captured_to = row.state == HoldState.CAPTURED and row.to_wallet_id is not None
    return {
        "hold_id": str(row.id),
        "wallet_id": str(row.wallet_id),
        "to": uuid_text(row.to_wallet_id),
        "amount": format_money(row.amount, row.currency),
        "currency": row.currency,
        "state": str(row.state),
        "captured": None if row.captured is None else format_money(row.captured, row.currency),
        "expires_at": moment_json(row.expires_at),
        "resolved_by": uuid_text(row.resolved_by),
        "transfer_id": uuid_text(row.resolved_by) if captured_to else None,
        "created_at": moment_json(row.created_at),
        "updated_at": moment_json(row.updated_at),
        "reference": row.reference,
        "metadata": row.metadata,
    }
