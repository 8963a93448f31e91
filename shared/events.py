"""Events: what a client learns of every money movement, exactly as it happened.

An event is written by the writer that decides the money, in the same transaction (the
``events`` table is the outbox): a shard worker for every ledger decision that is an event
(``EVENTS_OF``), the web node for ``wallet.created`` in the wallet's own insert. Its ``data``
is the resource as the API showed it at that instant (``shared.resources``) with ``wallet``:
the money of the wallet whose writer recorded it, right after (``event_data``). A hold or a
changes after its event, so its data is stored as it was. An operation's is its ledger row,
which never changes, and a transfer's event ends it (its record never changes again, and the
event's row says which legs it had): neither is stored twice, both are rendered from those rows
when read (``EVENT_READ``, ``StoredEvent``), so the hot path writes a short row per event. Events
are read in the order of ``EVENT_ORDER`` (``GET /api/v1/events``, and the webhook dispatcher).

Wire formats: ``event_json`` (the feed), ``webhook_payload`` (a webhook's body, the Standard
Webhooks shape).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.ledger import LEDGER_COLUMNS, LedgerRecord
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.resources import (
    Leg,
    LegDecided,
    TransferRow,
    moment_json,
    operation_json,
    transfer_json,
    wallet_json,
)
from shared.transfers import TransferState, credit_id

_EVENT_IDS = UUID("3f1c2a9e-8b47-4d6a-a5e2-7c0d91b4e638")
"""The namespace of events' ids (fixed forever)."""

EVENT_ORDER = ("txid", "seq")
"""The feed's order: by the writing transaction's id, then by row. Only transactions older
than every one still running are read (``EVENTS_SETTLED``), so an event never appears
behind a cursor already handed out: a feed with no gaps, whichever writer commits first."""

EVENTS_SETTLED = "txid < pg_snapshot_xmin(pg_current_snapshot())"
"""The SQL condition of events every reader may see, in their final order."""


class Resource(StrEnum):
    """What an event's ``data`` is."""

    WALLET = "wallet"
    OPERATION = "operation"
    TRANSFER = "transfer"
    HOLD = "hold"


class EventType(StrEnum):
    WALLET_CREATED = "wallet.created"
    WALLET_UPDATED = "wallet.updated"
    OPERATION_APPLIED = "operation.applied"
    OPERATION_REJECTED = "operation.rejected"
    TRANSFER_COMPLETED = "transfer.completed"
    TRANSFER_FAILED = "transfer.failed"
    HOLD_CREATED = "hold.created"
    HOLD_CAPTURED = "hold.captured"
    HOLD_VOIDED = "hold.voided"
    HOLD_EXPIRED = "hold.expired"

    @property
    def resource(self) -> Resource:
        return Resource(self.value.partition(".")[0])


@dataclass(frozen=True, slots=True)
class KindEvents:
    """The event a ledger decision of one kind is, when applied and when rejected (None: none;
    the transfer's or hold's next step is its event)."""

    applied: EventType | None
    rejected: EventType | None

    def of(self, status: OperationStatus) -> EventType | None:
        return self.applied if status is OperationStatus.APPLIED else self.rejected


EVENTS_OF: dict[OperationType, KindEvents] = {
    OperationType.DEPOSIT: KindEvents(EventType.OPERATION_APPLIED, EventType.OPERATION_REJECTED),
    OperationType.WITHDRAW: KindEvents(EventType.OPERATION_APPLIED, EventType.OPERATION_REJECTED),
    # A debit applied is a transfer under way: its credit (or refund) ends it.
    OperationType.TRANSFER_OUT: KindEvents(None, EventType.TRANSFER_FAILED),
    # A credit refused is followed by the refund, which is the failure's event.
    OperationType.TRANSFER_IN: KindEvents(EventType.TRANSFER_COMPLETED, None),
    OperationType.TRANSFER_REFUND: KindEvents(EventType.TRANSFER_FAILED, None),
    OperationType.HOLD: KindEvents(EventType.HOLD_CREATED, EventType.OPERATION_REJECTED),
    OperationType.HOLD_CAPTURE: KindEvents(EventType.HOLD_CAPTURED, EventType.OPERATION_REJECTED),
    OperationType.HOLD_VOID: KindEvents(EventType.HOLD_VOIDED, EventType.OPERATION_REJECTED),
    # The sweep's own expiry: refused only when the hold changed first, whose event that is.
    OperationType.HOLD_EXPIRE: KindEvents(EventType.HOLD_EXPIRED, None),
    OperationType.WALLET_UPDATE: KindEvents(EventType.WALLET_UPDATED, EventType.OPERATION_REJECTED),
    OperationType.REVERSE_DEPOSIT: KindEvents(EventType.OPERATION_APPLIED, EventType.OPERATION_REJECTED),
    OperationType.REVERSE_WITHDRAW: KindEvents(EventType.OPERATION_APPLIED, EventType.OPERATION_REJECTED),
}
"""Every kind's events (``tests/shared/test_events.py`` holds the table whole)."""


def event_id(event_type: EventType, subject: UUID) -> UUID:
    """An event's id: one event of a type per resource (``subject``: the wallet, operation,
    transfer or hold), the same however often its writer's batch is retried."""
    return uuid.uuid5(_EVENT_IDS, f"{event_type.value}/{subject}")


def event_json(event_id: UUID, event_type: str, created: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """An event in the feed (``GET /api/v1/events``)."""
    return {"id": str(event_id), "type": event_type, "created": moment_json(created), "data": data}


def event_data(resource: dict[str, Any], row: LedgerRecord) -> dict[str, Any]:
    """An event's ``data``: ``resource`` with ``wallet``, the money of the wallet of the ledger row
    ``row`` (the event) right after it, and that row's ``position``."""
    wallet = wallet_json(row.wallet_id, row.balance_after, row.held_after, row.currency)
    return {**resource, "wallet": {**wallet, "position": row.seq}}


_TRANSFER_COLUMNS = (
    "from_wallet_id",
    "to_wallet_id",
    "amount",
    "state",
    "error",
    "created_at",
    "updated_at",
    "currency",
)

EVENT_READ = (
    "SELECT e.id, e.type, e.created, e.data::text, e.txid::text, e.seq, "  # noqa: S608 (the tables' own names)
    + ", ".join([*(f"o.{column}" for column in LEDGER_COLUMNS), *(f"t.{column}" for column in _TRANSFER_COLUMNS)])
    + " FROM events e LEFT JOIN wallet_operations o ON e.data IS NULL AND o.id = e.operation_id"
    " LEFT JOIN transfers t ON e.data IS NULL AND t.id = o.transfer_id"
)
"""Events with what their data is made of (alias ``e``): add the conditions; each row is for
``StoredEvent.from_values``."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read (``EVENT_READ``), its data rendered."""

    id: UUID
    type: str
    created: datetime
    data: dict[str, Any]
    txid: int
    seq: int

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> StoredEvent:
        id_, type_, created, raw, txid, seq, *rest = values
        if raw is not None:
            data = json.loads(raw)
        else:
            row = LedgerRecord.from_values(tuple(rest[: len(LEDGER_COLUMNS)]))
            if EventType(type_).resource is Resource.TRANSFER:
                resource = transfer_json(transfer_at(row, rest[len(LEDGER_COLUMNS) :]))
            else:
                resource = operation_json(row)
            data = event_data(resource, row)
        return cls(UUID(str(id_)), type_, created, data, int(txid), int(seq))

    def to_json(self) -> dict[str, Any]:
        return event_json(self.id, self.type, self.created, self.data)


def transfer_at(leg: LedgerRecord, record: Sequence[Any]) -> TransferRow:
    """The transfer a leg ended (the row of its event), with its legs: the debit (refused, or
    applied before), the credit (applied, or refused before a refund) and the refund; its
    ``record`` (``_TRANSFER_COLUMNS``) does not change after that leg."""
    assert leg.transfer_id is not None
    from_wallet, to_wallet, amount, state, error, created_at, updated_at, currency = record
    debit: Leg = LegDecided(leg.transfer_id, OperationStatus.APPLIED.value, None)
    credit: Leg | None = None
    refund: Leg | None = None
    if leg.id == leg.transfer_id:  # a refused debit: nothing moved
        debit = leg
    elif leg.id == credit_id(leg.transfer_id):
        credit = leg
    else:
        credit, refund = LegDecided(credit_id(leg.transfer_id), OperationStatus.REJECTED.value, error), leg
    return TransferRow(
        leg.transfer_id,
        UUID(str(from_wallet)),
        UUID(str(to_wallet)),
        amount,
        TransferState(state),
        error,
        created_at,
        updated_at,
        debit,
        credit,
        refund,
        currency,
        leg.reversal_of,  # every leg names the transfer its transfer reverses, and carries its annotations
        leg.reference,
        leg.metadata,
    )


def webhook_payload(event_type: str, created: datetime, data: dict[str, Any]) -> bytes:
    """A webhook's body (Standard Webhooks): ``type``, ``timestamp`` (the event's time), ``data``."""
    body = {"type": event_type, "timestamp": moment_json(created), "data": data}
    return json.dumps(body, separators=(",", ":")).encode()
