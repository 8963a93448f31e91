"""Reads. The web node reads PostgreSQL directly, on its bounded pool; only workers write balances.

Every API read is one plain SQL statement on ``shared.connections`` (an ORM query costs more
to build than to run, and Django's connections are per greenlet under gevent, one new
connection per request). Table and column names are those of ``shared.tables``, which a test
holds equal to the migrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from shared.connections import read_all, read_one
from shared.errors import NotFound
from shared.messages import OperationType, Rejection

_BALANCE = "SELECT balance FROM wallets WHERE id = %s"

_OPERATION_COLUMNS = (
    "id, wallet_id, operation_type, amount, status, error, balance_after, idempotency_key, created_at, applied_at, seq"
)
# Built from the constant column list above only (no input reaches these strings).
_OPERATION = f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE id = %s"  # noqa: S608
_OPERATION_BY_KEY = f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE wallet_id = %s AND idempotency_key = %s"  # noqa: S608
_HISTORY = f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE wallet_id = %s ORDER BY seq DESC LIMIT %s"  # noqa: S608
_HISTORY_BEFORE = (
    f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE wallet_id = %s AND seq < %s ORDER BY seq DESC LIMIT %s"  # noqa: S608
)
_PENDING = "SELECT id, wallet_id, idempotency_key FROM pending_operations WHERE id = %s"


@dataclass(frozen=True, slots=True)
class OperationRow:
    """One ledger row."""

    id: UUID
    wallet_id: UUID
    operation_type: OperationType
    amount: Decimal
    status: str
    error: str | None
    balance_after: Decimal
    idempotency_key: str | None
    created_at: datetime
    applied_at: datetime
    seq: int

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> OperationRow:
        id_, wallet_id, operation_type, *rest = row
        return cls(UUID(str(id_)), UUID(str(wallet_id)), OperationType(str(operation_type)), *rest)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PendingRow:
    """An operation answered 202 and not found in the ledger yet."""

    id: UUID
    wallet_id: UUID
    idempotency_key: str | None


def wallet_balance_get(*, wallet_id: UUID) -> Decimal:
    row = read_one(_BALANCE, (str(wallet_id),))
    if row is None:
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    balance: Decimal = row[0]
    return balance


KNOWN_WALLETS_CACHED = 100_000
"""Wallet ids a web process remembers as existing (about 20 MB at most)."""


@lru_cache(maxsize=KNOWN_WALLETS_CACHED)
def _wallet_known(wallet_id: UUID) -> bool:
    # Only successes are cached (a miss raises), and a wallet is never deleted
    # (PROTECT foreign key, no delete in the admin or the API), so a hit stays true.
    wallet_balance_get(wallet_id=wallet_id)
    return True


def wallet_ensure_exists(*, wallet_id: UUID) -> None:
    """Raise ``NotFound`` unless the wallet exists; a known wallet costs no query."""
    _wallet_known(wallet_id)


def operation_get(*, operation_id: UUID) -> OperationRow | None:
    row = read_one(_OPERATION, (str(operation_id),))
    return None if row is None else OperationRow.from_row(row)


def operation_by_key_get(*, wallet_id: UUID, idempotency_key: str) -> OperationRow | None:
    """The ledger row an Idempotency-Key of a wallet names, for good, if it was decided."""
    row = read_one(_OPERATION_BY_KEY, (str(wallet_id), idempotency_key))
    return None if row is None else OperationRow.from_row(row)


def pending_get(*, operation_id: UUID) -> PendingRow | None:
    row = read_one(_PENDING, (str(operation_id),))
    if row is None:
        return None
    return PendingRow(UUID(str(row[0])), UUID(str(row[1])), row[2])


def wallet_history_list(
    *, wallet_id: UUID, limit: int, before_seq: int | None
) -> tuple[list[OperationRow], int | None]:
    """A page of a wallet's ledger, newest first, and the cursor of the next page (or None)."""
    wallet_ensure_exists(wallet_id=wallet_id)
    if before_seq is None:
        rows = read_all(_HISTORY, (str(wallet_id), limit + 1), limit + 1)
    else:
        rows = read_all(_HISTORY_BEFORE, (str(wallet_id), before_seq, limit + 1), limit + 1)
    page = [OperationRow.from_row(row) for row in rows]
    if len(page) > limit:
        return page[:limit], page[limit - 1].seq
    return page, None
