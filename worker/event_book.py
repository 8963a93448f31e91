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

from shared.annotations import Annotations
from shared.events import EVENTS_OF, EventType, Resource, event_data, event_id
from shared.ledger import LedgerRecord
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.resources import hold_json, uuid_text, wallet_json
from shared.tables import events
from shared.wallet_controls import Controls
from worker.holds import HoldBook

_TYPES = {
    "id": "uuid",
    "type": "varchar",
    "tenant_id": "uuid",
    "wallet_id": "uuid",
    "counterparty_id": "uuid",
    "operation_id": "uuid",
    "created": "timestamptz",
    "data": "json",
}
"""The columns an event is written with, and their types."""
_PARAMS = {column: f"event_{column}" for column in _TYPES}
"""The parameter of each column's array (apart from the ledger's own, in one statement)."""
_VALUES = {**{column: column for column in _TYPES}, "created": "coalesce(created, statement_timestamp())"}
EVENTS_INSERT = (
    f"INSERT INTO {events.name} ({', '.join(_TYPES)})"  # noqa: S608 (the table's own names)
    f" SELECT {', '.join(_VALUES.values())} FROM unnest("
    + ", ".join(f"%({_PARAMS[column]})s::{kind}[]" for column, kind in _TYPES.items())
    + f") WITH ORDINALITY AS rows ({', '.join(_TYPES)}, position) ORDER BY position"
)
"""A batch's events in one statement, numbered (``seq``) in the order they were decided. An
event whose time is not given is the statement's: its ledger row's when both are written by
one statement (``LEDGER_INSERT`` in a ``WITH``), as ``applied_at`` is ``statement_timestamp()``."""


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
    annotations: dict[UUID, Annotations]
    """The reference and metadata of each wallet the batch changes (its event shows them)."""
    decided: list[_Decided] = field(default_factory=list)

    def record(self, row: dict[str, Any], holds: HoldBook, controls: Controls | None = None) -> None:
        """Note the event a new ledger row is, if it is one (after its hold's change; with the
        wallet's ``controls`` after it, for a wallet update)."""
        event_type = EVENTS_OF[OperationType(row["operation_type"])].of(OperationStatus(row["status"]))
        if event_type is None:
            return
        resource = None
        if event_type.resource is Resource.HOLD:
            resource = hold_json(holds.view(row["hold_id"], self.now))
        elif event_type.resource is Resource.WALLET:
            assert controls is not None
            money = (row["balance_after"], row["held_after"], row["currency"])
            resource = wallet_json(row["wallet_id"], *money, controls, self.annotations[row["wallet_id"]])
        self.decided.append(_Decided(event_type, row, resource))

    @property
    def numbered(self) -> bool:
        """Whether an event shows its ledger row's number (``seq``, a hold's ``position``), so
        is written once the rows are, with their numbers."""
        return any(decided.resource is not None for decided in self.decided)

    def columns(self, numbered: dict[UUID, tuple[int, datetime]] | None = None) -> dict[str, list[Any]]:
        """``EVENTS_INSERT``'s arrays, given each ledger row's ``seq`` and ``applied_at`` by id
        (needed if ``self.numbered``; without them, each event takes its statement's time)."""
        columns: dict[str, list[Any]] = {column: [] for column in _TYPES}
        for decided in self.decided:
            row = decided.row
            resource = decided.type.resource
            # A wallet's change is one event each: its subject is the change, as an operation's.
            subject = row["id"] if resource in (Resource.OPERATION, Resource.WALLET) else row[f"{resource.value}_id"]
            created = data = None  # an operation's or a transfer's data is rendered from its rows when read
            if numbered is not None:
                seq, created = numbered[row["id"]]
                if decided.resource is not None:
                    snapshot = event_data(decided.resource, LedgerRecord.inserted(row, seq, created))
                    data = json.dumps(snapshot, separators=(",", ":"))
            wallet = row["wallet_id"]
            columns["id"].append(str(event_id(decided.type, subject)))
            columns["type"].append(decided.type.value)
            columns["tenant_id"].append(uuid_text(self.tenants.get(wallet)))
            columns["wallet_id"].append(str(wallet))
            columns["counterparty_id"].append(uuid_text(row["counterparty_id"]))
            columns["operation_id"].append(str(row["id"]))
            columns["created"].append(created)
            columns["data"].append(data)
        return {_PARAMS[column]: values for column, values in columns.items()}
