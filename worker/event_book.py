"""The events one ``worker.apply.ledger_apply`` call writes, in its transaction: one for each
ledger decision that is an event (``shared.events.EVENTS_OF``), naming its ledger row. A hold's
or a transfer's event stores the resource as the API would have shown it at that instant and
the wallet's money right after; an operation's stores nothing more, its ledger row is its data
(``shared.events.StoredEvent``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from shared.events import EVENTS_OF, EventType, Resource, event_data, event_id
from shared.ledger import LedgerRecord
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.resources import LegDecided, TransferRow, hold_json, transfer_json
from shared.tables import events
from shared.transfers import credit_id
from worker.holds import HoldBook
from worker.transfer_book import TransferBook

_COLUMNS = ("id", "type", "tenant_id", "wallet_id", "counterparty_id", "operation_id", "created", "data")
_EVENTS_INSERT = (
    f"INSERT INTO {events.name} ({', '.join(_COLUMNS)})"  # noqa: S608 (the table's own names)
    f" SELECT {', '.join(_COLUMNS)} FROM unnest("
    "%(id)s::uuid[], %(type)s::varchar[], %(tenant_id)s::uuid[], %(wallet_id)s::uuid[], %(counterparty_id)s::uuid[],"
    " %(operation_id)s::uuid[], %(created)s::timestamptz[], %(data)s::json[]"
    f") WITH ORDINALITY AS rows ({', '.join(_COLUMNS)}, position) ORDER BY position"
)
"""A batch's events in one statement, numbered (``seq``) in the order they were decided."""


@dataclass(frozen=True, slots=True)
class _Decided:
    type: EventType
    row: dict[str, Any]
    """The ledger row of the decision."""
    resource: dict[str, Any] | None
    """A hold as it stood at the decision (a hold may change again within the batch); None:
    rendered from the row once numbered."""


@dataclass(slots=True)
class EventBook:
    """The events of one ``ledger_apply`` call, in decision order."""

    now: datetime
    """The transaction's time (``now()``): holds' and transfers' ``updated_at``."""
    tenants: dict[UUID, UUID | None]
    """Each locked wallet's tenant: an event is its wallet's tenant's."""
    decided: list[_Decided] = field(default_factory=list)

    def record(self, row: dict[str, Any], holds: HoldBook) -> None:
        """Note the event a new ledger row is, if it is one (after its hold's change)."""
        event_type = EVENTS_OF[OperationType(row["operation_type"])].of(OperationStatus(row["status"]))
        if event_type is None:
            return
        resource = None
        if event_type.resource is Resource.HOLD:
            resource = hold_json(holds.view(row["hold_id"], self.now))
        self.decided.append(_Decided(event_type, row, resource))

    def write(self, conn: Connection, numbered: dict[UUID, tuple[int, datetime]], transfers: TransferBook) -> None:
        """Insert the events, once the ledger rows are numbered (``numbered``: their ``seq`` and
        ``applied_at`` by id)."""
        if not self.decided:
            return
        columns: dict[str, list[Any]] = {column: [] for column in _COLUMNS}
        for decided in self.decided:
            row = decided.row
            seq, applied_at = numbered[row["id"]]
            subject, data = row["id"], None  # an operation's data is its ledger row
            resource = decided.type.resource
            if resource is not Resource.OPERATION:
                record = LedgerRecord.inserted(row, seq, applied_at)
                if resource is Resource.HOLD:
                    assert decided.resource is not None
                    subject, snapshot = record.hold_id, decided.resource
                else:
                    subject, snapshot = record.transfer_id, transfer_json(self._transfer(record, transfers))
                data = json.dumps(event_data(snapshot, record), separators=(",", ":"))
            assert subject is not None
            wallet, counterparty = row["wallet_id"], row["counterparty_id"]
            columns["id"].append(str(event_id(decided.type, subject)))
            columns["type"].append(decided.type.value)
            columns["tenant_id"].append(_text(self.tenants.get(wallet)))
            columns["wallet_id"].append(str(wallet))
            columns["counterparty_id"].append(_text(counterparty))
            columns["operation_id"].append(str(row["id"]))
            columns["created"].append(applied_at)
            columns["data"].append(data)
        conn.exec_driver_sql(_EVENTS_INSERT, columns)

    def _transfer(self, leg: LedgerRecord, transfers: TransferBook) -> TransferRow:
        """The transfer a leg ended, with its legs: the debit (refused, or applied before), the
        credit (applied, or refused before a refund) and the refund."""
        assert leg.transfer_id is not None
        view = transfers.view(leg.transfer_id, self.now)
        if leg.id == leg.transfer_id:  # a refused debit: nothing moved
            return replace(view, debit=leg)
        debit = LegDecided(leg.transfer_id, OperationStatus.APPLIED.value, None)
        if leg.id == credit_id(leg.transfer_id):
            return replace(view, debit=debit, credit=leg)
        credit = LegDecided(credit_id(leg.transfer_id), OperationStatus.REJECTED.value, view.error)
        return replace(view, debit=debit, credit=credit, refund=leg)


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)
