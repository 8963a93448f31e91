"""A statement's two wire formats, written as its rows are read (``money.history.Statement``):
JSON, and CSV with one header row.

Both open with the balance before the span and close with the balance after it; the closing
balance is the opening one plus every row's ``balance_change``, as the rows stream by. A body
that stops before its closing balance was cut off (the connection or the database failed
after the answer began) and is not a statement.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.ledger import LedgerRecord
from shared.money import format_money
from shared.resources import moment_json, uuid_text
from web.wallets.inputs import StatementInput
from web.wallets.money.history import Statement

CSV_COLUMNS = ("time", "type", "amount", "balance_change", "balance_after", "reference", "counterparty", "operation_id")
OPENING, CLOSING = "OPENING_BALANCE", "CLOSING_BALANCE"
"""The ``type`` of the CSV's first and last rows, whose ``balance_after`` is the balance
before and after the span (at ``from`` and ``to``)."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A client's text starting with one of these is read as a formula by spreadsheets."""

ROWS_PER_WRITE = 200
"""Rows joined into one piece of the body (fewer, larger writes to the socket)."""


def _change(row: LedgerRecord) -> Decimal:
    return row.operation_type.kind.balance_change(row.amount)


def _row_json(row: LedgerRecord, change: Decimal) -> dict[str, Any]:
    return {
        "time": moment_json(row.applied_at),
        "operation_id": str(row.id),
        "operationType": row.operation_type.value,
        "amount": format_money(row.amount, row.currency),
        "balance_change": format_money(change, row.currency),
        "balance_after": format_money(row.balance_after, row.currency),
        "reference": row.reference,
        "metadata": row.metadata,
        "counterparty_wallet_id": uuid_text(row.counterparty_id),
        "position": row.seq,
    }


def statement_json(wallet_id: UUID, span: StatementInput, statement: Statement) -> Iterator[str]:
    """``{"wallet_id", "currency", "from", "to", "opening_balance", "rows": [...],
    "closing_balance", "row_count"}``, in pieces."""
    currency = statement.currency
    head = {
        "wallet_id": str(wallet_id),
        "currency": currency,
        "from": moment_json(span.start),
        "to": moment_json(span.end),
        "opening_balance": format_money(statement.opening, currency),
    }
    yield json.dumps(head)[:-1] + ', "rows": ['
    balance, count, pieces = statement.opening, 0, []
    for row in statement.rows:
        change = _change(row)
        balance += change
        pieces.append(("," if count else "") + json.dumps(_row_json(row, change)))
        count += 1
        if len(pieces) == ROWS_PER_WRITE:
            yield "".join(pieces)
            pieces.clear()
    tail = {"closing_balance": format_money(balance, currency), "row_count": count}
    yield "".join(pieces) + "], " + json.dumps(tail)[1:]


def _cell(text: str | None) -> str:
    """A client's text as a cell no spreadsheet runs as a formula (OWASP's CSV injection advice)."""
    if text is None:
        return ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def statement_csv(span: StatementInput, statement: Statement) -> Iterator[str]:
    """The header, the opening balance, one line per row, the closing balance, in pieces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    currency = statement.currency
    writer.writerow(CSV_COLUMNS)
    writer.writerow((moment_json(span.start), OPENING, "", "", format_money(statement.opening, currency), "", "", ""))
    balance = statement.opening
    for count, row in enumerate(statement.rows, start=1):
        change = _change(row)
        balance += change
        writer.writerow(
            (
                moment_json(row.applied_at),
                row.operation_type.value,
                format_money(row.amount, currency),
                format_money(change, currency),
                format_money(row.balance_after, currency),
                _cell(row.reference),
                uuid_text(row.counterparty_id) or "",
                str(row.id),
            )
        )
        if count % ROWS_PER_WRITE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerow((moment_json(span.end), CLOSING, "", "", format_money(balance, currency), "", "", ""))
    yield buffer.getvalue()
