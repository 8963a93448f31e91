"""The records of the transfers one ``worker.apply.ledger_apply`` call touches (``TransferBook``):
each leg moves its transfer's record on, in the leg's own transaction (``shared.transfers``
names the legs; ``worker.transfers`` the legs that follow and the sweep)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, String, Text, Uuid, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from shared.messages import OperationRequest
from shared.operations import TransferLeg
from shared.outcomes import OperationStatus, Rejection
from shared.sharding import shard_for
from shared.tables import transfers, wallet_operations
from shared.transfers import TransferState, credit_id, credit_of

log = logging.getLogger("worker.transfers")  # transfers log under one name, as before the book had a module

_IDS = bindparam("ids", type_=ARRAY(Uuid))

_LOCK_TRANSFERS = (  # FOR NO KEY UPDATE: see worker.apply._LOCK_WALLETS
    select(transfers.c.id, transfers.c.state)
    .where(transfers.c.id == any_(_IDS))
    .order_by(transfers.c.id)
    .with_for_update(key_share=True)
)
LEG_RESULTS = select(wallet_operations.c.id, wallet_operations.c.status, wallet_operations.c.error).where(
    wallet_operations.c.id == any_(_IDS)
)
_CHANGES = (
    func.unnest(_IDS, bindparam("states", type_=ARRAY(String)), bindparam("errors", type_=ARRAY(Text)))
    .table_valued("id", "state", "error", name="changes")
    .render_derived()
)
_SET_STATES = (
    update(transfers)
    .where(transfers.c.id == _CHANGES.c.id)
    .values(state=_CHANGES.c.state, error=_CHANGES.c.error, updated_at=func.now())
)


@dataclass(slots=True)
class TransferBook:
    """The records of the transfers one ``worker.apply.ledger_apply`` call touches: loaded (and
    locked) before the wallets, changed in memory leg by leg, written with the ledger rows."""

    shard_count: int
    inline_wallets: set[UUID]
    """Destinations of debits whose credit is applied with them (to lock with the rest)."""
    states: dict[UUID, str]
    """Existing records' states, locked ``FOR NO KEY UPDATE``."""
    credit_errors: dict[UUID, str | None]
    """For each refund's transfer, the error its refused credit recorded."""
    new: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    changes: dict[UUID, tuple[str, str | None]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, requests: Sequence[OperationRequest], *, shard_count: int) -> TransferBook:
        inline = {
            r.counterparty_id
            for r in requests
            if r.starts_transfer
            and r.counterparty_id is not None
            and shard_for(r.wallet_id, shard_count) == shard_for(r.counterparty_id, shard_count)
        }
        later = [r for r in requests if r.operation_type.kind.leg in (TransferLeg.CREDIT, TransferLeg.REFUND)]
        ids = sorted({r.transfer_id for r in later if r.transfer_id is not None})
        if not ids:
            return cls(shard_count, inline, {}, {})
        states = {row.id: row.state for row in conn.execute(_LOCK_TRANSFERS, {"ids": ids})}
        refunded = {
            r.transfer_id
            for r in later
            if r.operation_type.kind.leg is TransferLeg.REFUND and r.transfer_id is not None
        }
        credit_errors: dict[UUID, str | None] = {}
        if refunded:
            credits = {credit_id(t): t for t in refunded}
            for row in conn.execute(LEG_RESULTS, {"ids": sorted(credits)}):
                if row.status == OperationStatus.REJECTED.value:
                    credit_errors[credits[row.id]] = row.error
        return cls(shard_count, inline, states, credit_errors)

    def _same_shard(self, request: OperationRequest) -> bool:
        assert request.counterparty_id is not None
        return shard_for(request.wallet_id, self.shard_count) == shard_for(request.counterparty_id, self.shard_count)

    def inline_credit(self, debit: OperationRequest) -> OperationRequest | None:
        """The credit to apply with ``debit``, in its transaction: both wallets share a shard."""
        return credit_of(debit) if self._same_shard(debit) else None

    def opened(self, debit: OperationRequest, refusal: Rejection | None, currency: str) -> None:
        """The record of a newly decided debit: ``failed`` if refused, else ``pending``; in its
        source wallet's ``currency`` (the request's may be another, which refused it)."""
        assert debit.counterparty_id is not None
        self.new[debit.operation_id] = {
            "id": debit.operation_id,
            "from_wallet_id": debit.wallet_id,
            "to_wallet_id": debit.counterparty_id,
            "amount": debit.amount,
            "shard": shard_for(debit.wallet_id, self.shard_count),
            "state": (TransferState.PENDING if refusal is None else TransferState.FAILED).value,
            "error": None if refusal is None else refusal.value,
            "api_key_id": debit.api_key_id,
            "created_at": debit.created_at,
            "currency": currency,
            "reversal_of": debit.reversal_of,
            "reference": debit.reference,
            "metadata": debit.metadata,
        }

    def _set(self, transfer_id: UUID, state: TransferState, error: str | None) -> None:
        if transfer_id in self.new:
            self.new[transfer_id].update(state=state.value, error=error)
        else:
            self.changes[transfer_id] = (state.value, error)
            self.states[transfer_id] = state.value

    def credit_refusal(self, credit: OperationRequest) -> Rejection | None:
        """Why a credit must be refused whatever the balance: its transfer is not pending."""
        transfer_id = credit.transfer_id
        if transfer_id is None or (
            transfer_id not in self.new and self.states.get(transfer_id) != TransferState.PENDING
        ):
            log.error("credit %s of transfer %s that is not pending", credit.operation_id, credit.transfer_id)
            return Rejection.UNPROCESSABLE
        return None

    def completed(self, credit: OperationRequest) -> None:
        assert credit.transfer_id is not None
        self._set(credit.transfer_id, TransferState.COMPLETED, None)

    def returned(self, credit: OperationRequest, error: str | None) -> None:
        """A transfer within one shard whose credit was refused and refunded in its debit's
        transaction."""
        assert credit.transfer_id is not None
        self._set(credit.transfer_id, TransferState.FAILED, error)

    def refund_refusal(self, refund: OperationRequest) -> Rejection | None:
        """A refund applies only to a pending transfer whose credit was refused."""
        transfer_id = refund.transfer_id
        if (
            transfer_id is None
            or self.states.get(transfer_id) != TransferState.PENDING
            or transfer_id not in self.credit_errors
        ):
            log.error("refund %s of transfer %s that is not due one", refund.operation_id, refund.transfer_id)
            return Rejection.UNPROCESSABLE
        return None

    def refunded(self, refund: OperationRequest) -> None:
        assert refund.transfer_id is not None
        self._set(refund.transfer_id, TransferState.FAILED, self.credit_errors[refund.transfer_id])

    def write_new(self, conn: Connection) -> None:
        """Insert the new records (before the ledger rows that name them)."""
        if self.new:
            conn.execute(insert(transfers), list(self.new.values()))

    def write_changes(self, conn: Connection) -> None:
        if self.changes:
            ids = sorted(self.changes)
            conn.execute(
                _SET_STATES,
                {"ids": ids, "states": [self.changes[i][0] for i in ids], "errors": [self.changes[i][1] for i in ids]},
            )
