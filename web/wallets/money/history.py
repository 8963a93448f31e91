"""The ledger as clients search it: a wallet's history with filters, a reference's rows across a
tenant's wallets, a wallet's money at an instant, and statements.

Every query is served by an index of ``wallet_operations`` (migrations 0014 and 0017;
docs/history.md shows the plans). A wallet's rows are read in the order of their time and ledger
position, ``(applied_at, seq)``: ``applied_at`` is when the wallet's one writer decided a row, and
it never goes back along a wallet's rows (``shared.audit.time_reversals`` checks it), so that
order is the wallet's ledger order, and one index (``wallet_operations_timeline``) serves both
pages and spans of time. A cursor stays a ledger position (``seq``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.errors import NotFound
from shared.ledger import LEDGER_COLUMNS, LedgerRecord
from shared.outcomes import OperationStatus, Rejection
from web.database import read_all, read_one
from web.wallets.auth.api_keys import Caller
from web.wallets.inputs import HistoryFilters, StatementInput
from web.wallets.money.selectors import wallet_ensure_reachable

_COLUMNS = ", ".join(f"o.{column}" for column in LEDGER_COLUMNS)
_LAST = 2**63 - 1
"""Above every ledger position (``seq`` is a bigint)."""


_NEWEST_FIRST = "ORDER BY o.applied_at DESC, o.seq DESC"
"""A wallet's rows, newest first: its ledger order, read backwards along
``wallet_operations_timeline`` (or ``_by_type``, ``_rejections``, which end the same way)."""

# Each filter's condition on the row ``o``; the parameters are the filter's values.
_FILTERS = {
    "operation_type": "o.operation_type = %(operation_type)s",
    "status": "o.status = %(status)s",
    "created_after": "o.applied_at >= %(created_after)s",
    "created_before": "o.applied_at < %(created_before)s",
    "reference": "o.reference = %(reference)s",
    "metadata": "o.metadata @> %(metadata)s::jsonb",
}


def history_conditions(filters: HistoryFilters) -> tuple[list[str], dict[str, Any]]:
    """The conditions of ``filters`` on a row ``o``, and their parameters."""
    params: dict[str, Any] = {
        "operation_type": None if filters.operation_type is None else filters.operation_type.value,
        "status": None if filters.status is None else filters.status.value,
        "created_after": filters.created_after,
        "created_before": filters.created_before,
        "reference": filters.reference,
        "metadata": json.dumps(dict(filters.metadata)) if filters.metadata else None,
    }
    given = {name: value for name, value in params.items() if value is not None}
    return [_FILTERS[name] for name in given], given


@dataclass(frozen=True, slots=True)
class Page:
    """Rows newest first, and the position the next page continues below (None: the last page)."""

    rows: list[LedgerRecord]
    after: int | None


def _page(sql: str, params: dict[str, Any], limit: int) -> Page:
    rows = [LedgerRecord.from_values(row) for row in read_all(sql, {**params, "limit": limit + 1}, limit + 1)]
    if len(rows) > limit:
        return Page(rows[:limit], rows[limit - 1].seq)
    return Page(rows, None)


def wallet_history_list(
    *, wallet_id: UUID, caller: Caller, filters: HistoryFilters, limit: int, after: int | None
) -> Page:
    """A page of a wallet's ledger rows that pass ``filters``, newest first, below position
    ``after`` (the last of the previous page)."""
    wallet_ensure_reachable(wallet_id=wallet_id, caller=caller)
    conditions, params = history_conditions(filters)
    if after is not None:
        conditions.append(_BELOW)
    return _page(history_sql(conditions), {**params, "wallet": str(wallet_id), "after": after}, limit)


_CURSOR_AT = "(SELECT applied_at FROM wallet_operations WHERE seq = %(after)s AND wallet_id = %(wallet)s)"
_BELOW = f"o.applied_at <= {_CURSOR_AT} AND (o.applied_at < {_CURSOR_AT} OR o.seq < %(after)s)"
"""A page's condition past the first: below the last row of the page before, at position
``after`` (none of another wallet). Not a row comparison, ``(applied_at, seq) < (...)``: the
index scan would start at the cursor even when a ``created_before`` bound lies far below it, and
walk every row between; a bound on ``applied_at`` alone, the tighter of the two, is where it
starts."""


def history_sql(conditions: list[str]) -> str:
    """A page of a wallet's rows meeting ``conditions`` (``history_conditions``, ``_BELOW``),
    newest first: ``%(wallet)s``, the conditions' parameters and ``%(limit)s``. Built from this
    module's constants only; every value is a parameter."""
    where = "".join(f" AND {condition}" for condition in conditions)
    return (
        f"SELECT {_COLUMNS} FROM wallet_operations o WHERE o.wallet_id = %(wallet)s{where}"  # noqa: S608
        f" {_NEWEST_FIRST} LIMIT %(limit)s"
    )


_BY_REFERENCE = (
    f"SELECT {_COLUMNS} FROM wallet_operations o JOIN wallets w ON w.id = o.wallet_id"  # noqa: S608 (constants)
    " WHERE o.reference = %(reference)s AND (%(tenant)s::uuid IS NULL OR w.tenant_id = %(tenant)s::uuid)"
    " AND o.seq < %(after)s ORDER BY o.seq DESC LIMIT %(limit)s"
)


def operations_by_reference_list(*, caller: Caller, reference: str, limit: int, after: int | None) -> Page:
    """A page of the ledger rows carrying ``reference`` on every wallet the caller reaches,
    newest first, below position ``after``."""
    params = {"reference": reference, "tenant": caller.tenant_id, "after": _LAST if after is None else after}
    return _page(_BY_REFERENCE, params, limit)


@dataclass(frozen=True, slots=True)
class MoneyAt:
    """A wallet's money as it stood at an instant: after its ledger row at ``position`` (None:
    the wallet had no row yet)."""

    balance: Decimal
    held: Decimal
    currency: str
    position: int | None

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


# The row of the wallet's last decision at or before the instant, by wallet_operations_timeline.
_AT = (
    "SELECT w.created_at <= %(at)s, o.balance_after, o.held_after, o.seq FROM wallets w"
    " LEFT JOIN LATERAL (SELECT balance_after, held_after, seq FROM wallet_operations"
    " WHERE wallet_id = w.id AND applied_at <= %(at)s ORDER BY applied_at DESC, seq DESC LIMIT 1) o ON true"
    " WHERE w.id = %(wallet)s"
)


def wallet_money_at(*, wallet_id: UUID, caller: Caller, at: datetime) -> MoneyAt:
    """A wallet's money at the instant ``at`` (every row decided until then counted, a
    refused one as leaving the money as it was); ``NotFound`` if the wallet did not exist yet."""
    wallet = wallet_ensure_reachable(wallet_id=wallet_id, caller=caller)
    row = read_one(_AT, {"wallet": str(wallet_id), "at": at})
    if row is None or not row[0]:
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    _, balance, held, position = row
    if position is None:
        return MoneyAt(Decimal(0), Decimal(0), wallet.currency, None)
    return MoneyAt(balance, held, wallet.currency, position)


STATEMENT_CHUNK = 1000
"""Rows a statement reads at a time: what it holds in memory, however long it is."""

_STATEMENT_SPAN = (
    "SELECT (SELECT balance_after FROM wallet_operations"
    " WHERE wallet_id = %(wallet)s AND applied_at < %(start)s"
    " ORDER BY applied_at DESC, seq DESC LIMIT 1),"
    " (SELECT seq FROM wallet_operations WHERE wallet_id = %(wallet)s ORDER BY applied_at DESC, seq DESC LIMIT 1)"
)
"""The balance before the span, and the position of the wallet's last row (rows written while a
statement streams are not in it)."""
_STATEMENT_ROWS = (
    f"SELECT {_COLUMNS} FROM wallet_operations o WHERE o.wallet_id = %(wallet)s"  # noqa: S608 (constants)
    " AND (o.applied_at, o.seq) > (%(at)s, %(seq)s) AND o.applied_at < %(end)s AND o.seq <= %(last)s"
    f" AND o.status = '{OperationStatus.APPLIED.value}' ORDER BY o.applied_at, o.seq LIMIT %(chunk)s"
)
"""The next chunk of a span's applied rows, oldest first: after the row at ``at``, ``seq``."""


@dataclass(frozen=True, slots=True)
class Statement:
    """A wallet's applied rows of a span, oldest first, and its balance before them."""

    currency: str
    opening: Decimal
    rows: Iterator[LedgerRecord]
    """Read ``STATEMENT_CHUNK`` at a time as they are consumed."""


def wallet_statement_get(*, wallet_id: UUID, caller: Caller, span: StatementInput) -> Statement:
    """The statement of a wallet the caller reaches, for ``span``."""
    wallet = wallet_ensure_reachable(wallet_id=wallet_id, caller=caller)
    head = read_one(_STATEMENT_SPAN, {"wallet": str(wallet_id), "start": span.start})
    assert head is not None  # scalar subqueries: one row
    opening, last = head
    rows = iter(()) if last is None else _rows_of(str(wallet_id), span, last)
    return Statement(wallet.currency, Decimal(0) if opening is None else opening, rows)


def _rows_of(wallet: str, span: StatementInput, last: int) -> Iterator[LedgerRecord]:
    """The wallet's applied rows of ``span`` up to position ``last``, in chunks."""
    # After (start, 0): every row at or after the start (positions begin at 1).
    params: dict[str, Any] = {"wallet": wallet, "at": span.start, "seq": 0, "end": span.end, "last": last}
    while True:
        chunk = read_all(_STATEMENT_ROWS, {**params, "chunk": STATEMENT_CHUNK}, STATEMENT_CHUNK)
        for values in chunk:
            record = LedgerRecord.from_values(values)
            yield record
        if len(chunk) < STATEMENT_CHUNK:
            return
        params.update(at=record.applied_at, seq=record.seq)
