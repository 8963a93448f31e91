"""Events: what a client learns of every money movement, exactly as it happened.

An event is written by the writer that decides the money, in the same transaction (the
``events`` table is the outbox): a shard worker for every ledger decision that is an event
(``EVENTS_OF``), the web node for ``wallet.created`` in the wallet's own insert. Its ``data``
is the resource as the API showed it at that instant (``shared.resources``) with ``wallet``:
the money of the wallet whose writer recorded it, right after. Events are read in the order
of ``EVENT_ORDER`` (``GET /api/v1/events``, and the webhook dispatcher).

Wire formats: ``event_json`` (the feed), ``webhook_payload`` (a webhook's body, the Standard
Webhooks shape).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.resources import moment_json

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
}
"""Every kind's events (``tests/shared/test_events.py`` holds the table whole)."""


def event_id(event_type: EventType, subject: UUID) -> UUID:
    """An event's id: one event of a type per resource (``subject``: the wallet, operation,
    transfer or hold), the same however often its writer's batch is retried."""
    return uuid.uuid5(_EVENT_IDS, f"{event_type.value}/{subject}")


def event_json(event_id: UUID, event_type: str, created: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """An event in the feed (``GET /api/v1/events``)."""
    return {"id": str(event_id), "type": event_type, "created": moment_json(created), "data": data}


def webhook_payload(event_type: str, created: datetime, data: dict[str, Any]) -> bytes:
    """A webhook's body (Standard Webhooks): ``type``, ``timestamp`` (the event's time), ``data``."""
    body = {"type": event_type, "timestamp": moment_json(created), "data": data}
    return json.dumps(body, separators=(",", ":")).encode()
