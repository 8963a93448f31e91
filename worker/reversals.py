"""Reversals on the worker side: what each reversal in a batch reverses, and how much of it is
left to reverse (``ReversalBook``).

A reversal is decided by the writer of the wallet it takes money from or gives money back to,
in order with that wallet's money: a ``REVERSE_DEPOSIT`` or ``REVERSE_WITHDRAW`` by the writer
of the operation's own wallet, a transfer that reverses another (its debit) by the writer of
that transfer's destination. Every reversal of one operation or transfer is therefore decided by
one writer, under the lock of one wallet (``worker.apply._LOCK_WALLETS``): the sum of those
already applied, read after that lock, and those of the batch so far, added in memory, never
pass the original's amount. A reversing transfer whose credit was refused and refunded counts no
more (its record is ``failed``). The web accepts a reversal only of what the ledger already shows
applied (or completed), so an original is never in its reversal's batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Connection, Numeric, Uuid, any_, bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY

from shared.messages import OperationRequest
from shared.operations import REVERSAL_OF, OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.reversed import operation_reversed, transfer_reversed
from shared.tables import transfers, wallet_operations
from shared.transfers import TransferState

_IDS = bindparam("ids", type_=ARRAY(Uuid))

_OPERATIONS = select(
    wallet_operations.c.id,
    wallet_operations.c.wallet_id,
    wallet_operations.c.operation_type,
    wallet_operations.c.amount,
    wallet_operations.c.status,
    literal_column(operation_reversed("wallet_operations.id"), Numeric).label("reversed"),
).where(wallet_operations.c.id == any_(_IDS))
"""The operations reversals name, with the money reversed of each (``shared.reversed``)."""

_TRANSFERS = select(
    transfers.c.id,
    transfers.c.from_wallet_id,
    transfers.c.to_wallet_id,
    transfers.c.amount,
    transfers.c.state,
    transfers.c.reversal_of,
    literal_column(transfer_reversed("transfers.id"), Numeric).label("reversed"),
).where(transfers.c.id == any_(_IDS))
"""The transfers reversing transfers name, with the money reversed of each (``shared.reversed``)."""


@dataclass(frozen=True, slots=True)
class _Original:
    """What one reversal may reverse: from which wallet (to which other one, for a transfer), by
    which kind, and how much."""

    wallet_id: UUID
    """The wallet a reversal of it is of: an operation's own, a transfer's destination."""
    counterparty_id: UUID | None
    """A transfer's source, where its reversal sends the money (None: an operation)."""
    operation_type: OperationType | None
    """The kind that reverses it (None: nothing does, it is no deposit or withdrawal)."""
    amount: Decimal
    reversible: bool
    """Applied (an operation) or completed (a transfer), and no reversal itself."""


@dataclass(slots=True)
class ReversalBook:
    """The originals one ``worker.apply.ledger_apply`` call's reversals name, read after its
    wallets are locked, and the money reversed of each, the batch's reversals included."""

    originals: dict[UUID, _Original] = field(default_factory=dict)
    reversed: dict[UUID, Decimal] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, requests: Sequence[OperationRequest]) -> ReversalBook:
        """The book of ``requests``' reversals: none (no query) in a batch without one."""
        book = cls()
        operations = sorted({r.reversal_of for r in requests if _reverses_operation(r) and r.reversal_of})
        transfers_ = sorted({r.reversal_of for r in requests if _reverses_transfer(r) and r.reversal_of})
        if operations:
            for row in conn.execute(_OPERATIONS, {"ids": operations}):
                book.originals[row.id] = _Original(
                    row.wallet_id,
                    None,
                    REVERSAL_OF.get(OperationType(row.operation_type)),
                    row.amount,
                    row.status == OperationStatus.APPLIED.value,
                )
                book.reversed[row.id] = row.reversed
        if transfers_:
            for record in conn.execute(_TRANSFERS, {"ids": transfers_}):
                book.originals[record.id] = _Original(
                    record.to_wallet_id,
                    record.from_wallet_id,
                    OperationType.TRANSFER_OUT,
                    record.amount,
                    record.state == TransferState.COMPLETED.value and record.reversal_of is None,
                )
                book.reversed[record.id] = record.reversed
        return book

    def refusal(self, request: OperationRequest) -> Rejection | None:
        """Why a reversal (or a reversing transfer's debit) must be refused whatever its wallet's
        money: it names nothing it may reverse, or more than is left of it."""
        assert request.reversal_of is not None
        original = self.originals.get(request.reversal_of)
        if (
            original is None
            or not original.reversible
            or original.wallet_id != request.wallet_id
            or original.operation_type is not request.operation_type
            or original.counterparty_id != request.counterparty_id
        ):
            return Rejection.NOT_REVERSIBLE
        if self.reversed[request.reversal_of] + request.amount > original.amount:
            return Rejection.REVERSAL_TOO_LARGE
        return None

    def applied(self, request: OperationRequest) -> None:
        """A reversal applied in this batch: its money counts against what is left."""
        assert request.reversal_of is not None
        self.reversed[request.reversal_of] += request.amount


def _reverses_operation(request: OperationRequest) -> bool:
    return request.operation_type.kind.reverses is not None


def _reverses_transfer(request: OperationRequest) -> bool:
    return request.operation_type is OperationType.TRANSFER_OUT and request.reversal_of is not None


def decides(request: OperationRequest) -> bool:
    """Whether ``request`` is a reversal this book decides: a ``REVERSE_*`` operation, or the
    debit of a transfer that reverses another (its credit and refund follow as any transfer's)."""
    return _reverses_operation(request) or _reverses_transfer(request)
