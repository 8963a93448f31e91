"""One definition of a ledger row (``wallet_operations``) and of a pending record
(``pending_operations``), built from ``shared.tables`` at import time.

- ``LEDGER_COLUMNS`` and ``LedgerRecord``: the columns of a ledger row, in the table's order,
  and the row as the web reads it (``LedgerRecord.from_values`` on a plain SQL row selected
  with ``LEDGER_COLUMNS``);
- ``ledger_row``: the row the worker inserts for a request and its result, and
  ``LEDGER_INSERT`` with ``ledger_columns``: a batch of them in one statement;
- ``PENDING_COLUMNS``, ``pending_values`` and ``request_from_pending``: what the web records of
  an operation answered 202, and the request the worker rebuilds from it.

A request's field is stored in the column of the same name (``operation_id`` in ``id``), so a
new field of ``OperationRequest`` with a column of that name on both tables needs nothing
here. Statements built from these lists are constant strings, compiled once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import Table, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from shared.annotations import Metadata, stored_metadata
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType, starts_transfer
from shared.tables import pending_operations, wallet_operations
from shared.wallet_controls import WalletChange, change_of


def _column_of(field_name: str) -> str:
    return "id" if field_name == "operation_id" else field_name


def _stored_in(table: Table) -> tuple[tuple[str, str], ...]:
    """(field, column) of each ``OperationRequest`` field that ``table`` stores."""
    return tuple((f.name, _column_of(f.name)) for f in fields(OperationRequest) if _column_of(f.name) in table.c)


_LEDGER_FIELDS = _stored_in(wallet_operations)
_PENDING_FIELDS = _stored_in(pending_operations)

LEDGER_COLUMNS = tuple(column.name for column in wallet_operations.columns)
"""Every column of a ledger row, in the table's order."""

PENDING_COLUMNS = tuple(column for _, column in _PENDING_FIELDS)
"""The columns of a pending record that a request fills (its shard aside), in field order."""


_DECIDED_COLUMNS = ("operation_type", "status", "error", "balance_after", "held_after", "hold_id", "currency")
"""What ``ledger_row`` adds to a request's own columns: what the worker decided of it."""

LEDGER_INSERTED = tuple(dict.fromkeys([*(column for _, column in _LEDGER_FIELDS), *_DECIDED_COLUMNS]))
"""The columns ``ledger_row`` fills, in the order ``LEDGER_INSERT`` takes them."""

_AS_TEXT = frozenset(column for column in LEDGER_INSERTED if isinstance(wallet_operations.c[column].type, Uuid))
"""Columns whose values the driver takes as text (it has no adapter for ``UUID``)."""

_CHANGE = "change"
"""The column of a wallet update's change (``shared.wallet_controls``)."""

_METADATA = "metadata"
"""The column of the client's metadata (``shared.annotations``)."""

_AS_JSON = frozenset(column for column in LEDGER_INSERTED if isinstance(wallet_operations.c[column].type, JSONB))
"""Columns the driver takes as JSON text (``change``, ``metadata``)."""

LEDGER_INSERT = (
    f"INSERT INTO {wallet_operations.name} ({', '.join(LEDGER_INSERTED)})"  # noqa: S608 (the table's own names)
    f" SELECT {', '.join(LEDGER_INSERTED)} FROM unnest("
    + ", ".join(
        f"%({column})s::{wallet_operations.c[column].type.compile(dialect=postgresql.dialect())}[]"  # type: ignore[no-untyped-call]
        for column in LEDGER_INSERTED
    )
    + f") WITH ORDINALITY AS rows ({', '.join(LEDGER_INSERTED)}, position) ORDER BY position"
    " RETURNING id, seq, applied_at"
)
"""One statement for a batch's new ledger rows, one array per column, whatever their number:
rows are inserted (and numbered by ``seq``) in their order, and each row's ``id``, ``seq`` and
``applied_at`` returned. For ``Connection.exec_driver_sql`` with ``ledger_columns``."""


def ledger_columns(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """``ledger_row`` rows as the arrays ``LEDGER_INSERT`` takes, column by column."""
    arrays: dict[str, list[Any]] = {}
    for column in LEDGER_INSERTED:
        values = [row[column] for row in rows]
        if column in _AS_TEXT:
            values = [None if v is None else str(v) for v in values]
        elif column in _AS_JSON:
            values = [_plain(v) for v in values]
        arrays[column] = values
    return arrays


def ledger_row(
    request: OperationRequest,
    result: OperationResult,
    *,
    balance_after: Decimal,
    held_after: Decimal,
    hold_id: UUID | None,
    currency: str,
) -> dict[str, Any]:
    """The ledger row that records ``request`` and what was decided of it (``hold_id``: the hold
    it names, if that hold exists), in its wallet's ``currency`` (a request naming another is
    refused, and recorded in the currency of the balance its row shows)."""
    row = {column: getattr(request, name) for name, column in _LEDGER_FIELDS}
    row.update(
        currency=currency,
        operation_type=request.operation_type.value,
        status=result.status.value,
        error=result.error,
        balance_after=balance_after,
        held_after=held_after,
        hold_id=hold_id,
    )
    return row


def _plain(value: Any) -> Any:
    """A value as a plain DB-API driver takes it."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, WalletChange):
        return json.dumps(value.to_json(), separators=(",", ":"))
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value.value if isinstance(value, Enum) else value


def pending_values(request: OperationRequest) -> tuple[Any, ...]:
    """A request's values in ``PENDING_COLUMNS`` order, as a plain DB-API driver takes them."""
    return tuple(_plain(getattr(request, name)) for name, _ in _PENDING_FIELDS)


def request_from_pending(row: Any) -> OperationRequest:
    """The request a pending record (a row with ``PENDING_COLUMNS`` as attributes) was made of.
    Of transfers only the debit (or a capture to a wallet) is recorded by the web; its id is
    the transfer's."""
    values = {name: getattr(row, column) for name, column in _PENDING_FIELDS}
    values["operation_type"] = operation_type = OperationType(values["operation_type"])
    values[_CHANGE] = change_of(values[_CHANGE])
    values[_METADATA] = stored_metadata(values[_METADATA])
    if starts_transfer(operation_type, values["counterparty_id"]):
        values["transfer_id"] = values["operation_id"]
    return OperationRequest(**values)


def _uuid(value: object) -> UUID | None:
    return None if value is None else UUID(str(value))  # a plain driver reads a uuid as its text


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """One ledger row as read (fields: ``LEDGER_COLUMNS``, in order; a test holds them equal)."""

    id: UUID
    seq: int
    wallet_id: UUID
    operation_type: OperationType
    amount: Decimal
    status: str
    error: str | None
    balance_after: Decimal
    idempotency_key: str | None
    api_key_id: UUID | None
    """The API key that sent it (None: sent with ``API_AUTH=off``)."""
    transfer_id: UUID | None
    counterparty_id: UUID | None
    """A transfer leg's other wallet (or a capture's destination)."""
    hold_id: UUID | None
    held_after: Decimal
    expires_at: datetime | None
    """A hold's expiry, as asked."""
    created_at: datetime
    applied_at: datetime
    currency: str
    """Its wallet's (ISO 4217): the currency of ``amount``, ``balance_after`` and ``held_after``."""
    change: WalletChange | None
    """A wallet update's change of its wallet's controls."""
    reversal_of: UUID | None
    """What it reverses: a reversal's operation, or a reversing transfer leg's transfer."""
    reference: str | None
    """The client's own id of the write (``shared.annotations``)."""
    metadata: Metadata | None
    """The client's strings."""

    @classmethod
    def inserted(cls, row: dict[str, Any], seq: int, applied_at: datetime) -> LedgerRecord:
        """A ``ledger_row`` as the database numbered it (``LEDGER_INSERT`` returns both)."""
        values: dict[str, Any] = {column: row.get(column) for column in LEDGER_COLUMNS}
        values.update(seq=seq, applied_at=applied_at, operation_type=OperationType(row["operation_type"]))
        return cls(**values)

    @classmethod
    def from_values(cls, values: tuple[Any, ...]) -> LedgerRecord:
        """A row selected with ``LEDGER_COLUMNS``, by a plain driver."""
        return cls(*(read(value) for read, value in zip(_READERS, values, strict=True)))


_READERS: tuple[Callable[[Any], Any], ...] = tuple(
    OperationType
    if column.name == "operation_type"
    else change_of
    if column.name == _CHANGE
    else stored_metadata
    if column.name == _METADATA
    else _uuid
    if isinstance(column.type, Uuid)
    else _same
    for column in wallet_operations.columns
)
"""How each column's value, as a plain driver reads it, becomes its ``LedgerRecord`` field."""
