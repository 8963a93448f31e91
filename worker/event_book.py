"""The events one ``worker.apply.ledger_apply`` call writes, in its transaction: one for each
ledger decision that is an event (``shared.events.EVENTS_OF``), naming its ledger row. A hold's
event stores the hold as the API would have shown it at that instant, with the wallet's money
right after; an operation's and a transfer's store nothing more: their rows are their data
(``shared.events.StoredEvent``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from shared.events import EVENTS_OF, EventType, Resource, event_data, event_id
from shared.ledger import LedgerRecord
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.resources import hold_json
from shared.tables import events
from worker.holds import HoldBook

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
    """A hold as it stood at the decision (it may change again, within the batch or later); None
    for the others, rendered from their rows when read (``shared.events.StoredEvent``)."""


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

    def write(self, conn: Connection, numbered: dict[UUID, tuple[int, datetime]]) -> None:
        """Insert the events, once the ledger rows are numbered (``numbered``: their ``seq`` and
        ``applied_at`` by id)."""
        if not self.decided:
            return
        columns: dict[str, list[Any]] = {column: [] for column in _COLUMNS}
        for decided in self.decided:
            row = decided.row
            seq, applied_at = numbered[row["id"]]
            resource = decided.type.resource
            subject = row["id"] if resource is Resource.OPERATION else row[f"{resource.value}_id"]
            data = None  # an operation's or a transfer's data is rendered from its rows when read
            if decided.resource is not None:
                snapshot = event_data(decided.resource, LedgerRecord.inserted(row, seq, applied_at))
                data = json.dumps(snapshot, separators=(",", ":"))
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


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)
