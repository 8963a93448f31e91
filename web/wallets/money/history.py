"""The ledger as clients search it: a wallet's history with filters, a reference's rows across a
tenant's wallets, a wallet's money at an instant, and statements.

Every query is served by an index of ``wallet_operations`` (migration 0014; docs/history.md
shows the plans). A wallet's rows are read in ledger order (``seq``). Their time is
``applied_at``, when the wallet's one writer decided them: it never goes back along a wallet's
rows (``shared.audit.time_reversals`` checks it), so the rows of a span of time are those
between two ledger positions, each found by one probe of ``wallet_operations_timeline``.
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


def _first_at(moment: str) -> str:
    """The position of the wallet's first row decided at or after the instant ``moment`` names
    (NULL: none)."""
    return (
        "(SELECT seq FROM wallet_operations WHERE wallet_id = %(wallet)s"  # noqa: S608 (a parameter's name)
        f" AND applied_at >= %({moment})s ORDER BY applied_at, seq LIMIT 1)"
    )


# Each filter's condition on the row ``o``; the parameters are the filter's values.
_AFTER = f"o.seq >= {_first_at('created_after')}"
_BEFORE = f"o.seq < coalesce({_first_at('created_before')}, {_LAST})"
_FILTERS = {
    "operation_type": "o.operation_type = %(operation_type)s",
    "status": "o.status = %(status)s",
    "created_after": _AFTER,
    "created_before": _BEFORE,
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


_BELOW = "o.seq < %(after)s"
"""A page's condition past the first: below the last row of the page before."""


def history_sql(conditions: list[str]) -> str:
    """A page of a wallet's rows meeting ``conditions`` (``history_conditions``, ``_BELOW``),
    newest first: ``%(wallet)s``, the conditions' parameters and ``%(limit)s``. Built from this
    module's constants only; every value is a parameter."""
    where = "".join(f" AND {condition}" for condition in conditions)
    return (
        f"SELECT {_COLUMNS} FROM wallet_operations o WHERE o.wallet_id = %(wallet)s{where}"  # noqa: S608
        " ORDER BY o.seq DESC LIMIT %(limit)s"
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
    "SELECT (SELECT balance_after FROM wallet_operations"  # noqa: S608 (constants)
    " WHERE wallet_id = %(wallet)s AND applied_at < %(start)s"
    " ORDER BY applied_at DESC, seq DESC LIMIT 1),"
    f" {_first_at('start')}, coalesce({_first_at('end')},"
    " (SELECT seq + 1 FROM wallet_operations WHERE wallet_id = %(wallet)s ORDER BY seq DESC LIMIT 1))"
)
"""The balance before the span, and the positions of its first row and of the first row after
it (or past the wallet's last row: rows written while a statement streams are not in it)."""
_STATEMENT_ROWS = (
    f"SELECT {_COLUMNS} FROM wallet_operations o WHERE o.wallet_id = %(wallet)s"  # noqa: S608 (constants)
    f" AND o.seq >= %(low)s AND o.seq < %(high)s AND o.status = '{OperationStatus.APPLIED.value}'"
    " ORDER BY o.seq LIMIT %(chunk)s"
)


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
    params = {"wallet": str(wallet_id), "start": span.start, "end": span.end}
    head = read_one(_STATEMENT_SPAN, params)
    assert head is not None  # scalar subqueries: one row
    opening, low, high = head
    rows = iter(()) if low is None else _rows_between(str(wallet_id), low, high)
    return Statement(wallet.currency, Decimal(0) if opening is None else opening, rows)


def _rows_between(wallet: str, low: int, high: int) -> Iterator[LedgerRecord]:
    """The wallet's applied rows at positions ``low`` to ``high`` (excluded), in chunks."""
    while low < high:
        chunk = read_all(
            _STATEMENT_ROWS, {"wallet": wallet, "low": low, "high": high, "chunk": STATEMENT_CHUNK}, STATEMENT_CHUNK
        )
        for values in chunk:
            yield LedgerRecord.from_values(values)
        if len(chunk) < STATEMENT_CHUNK:
            return
        low = chunk[-1][LEDGER_COLUMNS.index("seq")] + 1
