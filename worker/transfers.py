"""Transfers on the worker side: the record each leg moves on, the legs that follow a batch,
and the sweep that redoes what a crash left undone.

A transfer's record (``transfers``) is written by the worker of the source's shard, in the
transaction of the debit, its decision point (``shared.transfers`` names the legs):

- the debit is refused (insufficient funds): the record says ``failed``, nothing moved;
- both wallets share a shard: the credit is applied in the same transaction, ``completed``
  (or, if the destination cannot take it, the debit is refused: ``failed``, nothing moved);
- otherwise ``pending``: after the commit, the credit is enqueued on the destination's
  shard (``follow_ups``), whose worker applies it and marks the record ``completed`` in the
  same transaction; if that worker refuses it (the balance limit), it enqueues the refund,
  and the source's worker applies it and marks the record ``failed``, again in one
  transaction.

A crash between two legs leaves the record ``pending``; the worker that owns the source's
shard finds it (``transfers_due``, every ``SETTLE_EVERY`` s, once nothing has moved it or
looked at it for ``TRANSFER_GRACE`` s, each transfer in turn) and redoes the next leg:
enqueues the credit again if Redis holds no job for it, or applies the refund itself. Each
leg's id derives from the transfer's, and the ledger's primary key applies it at most once.
A transfer no leg can move on (its refund refused for good) is set aside (``stalled``, with
why) for an operator, out of the sweep's way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import redis
from sqlalchemy import (
    Connection,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared import keys
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType, TransferLeg
from shared.outcomes import OperationStatus, Rejection
from shared.rq_contract import enqueue_commands
from shared.sharding import shard_for
from shared.tables import transfers, wallet_operations
from shared.transfers import TransferState, credit_id, credit_of, refund_id, refund_of

log = logging.getLogger(__name__)

TRANSFER_GRACE = 5.0
"""Seconds a pending transfer is left to its legs' jobs before its source's worker looks at it."""

SWEEP_BATCH = 200
"""Most pending transfers looked at in one sweep."""

_IDS = bindparam("ids", type_=ARRAY(Uuid))

_LOCK_TRANSFERS = (  # FOR NO KEY UPDATE: see worker.apply._LOCK_WALLETS
    select(transfers.c.id, transfers.c.state)
    .where(transfers.c.id == any_(_IDS))
    .order_by(transfers.c.id)
    .with_for_update(key_share=True)
)
_LEG_RESULTS = select(wallet_operations.c.id, wallet_operations.c.status, wallet_operations.c.error).where(
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
_LOOKED_AT = func.coalesce(transfers.c.swept_at, transfers.c.updated_at)  # by the index transfers_sweep
_DUE_IDS = (
    select(transfers.c.id)
    .where(transfers.c.state == TransferState.PENDING.value)
    .where(transfers.c.stalled.is_(None))
    .where(transfers.c.shard == any_(bindparam("shards", type_=ARRAY(SmallInteger))))
    .where(_LOOKED_AT < func.now() - bindparam("grace", type_=Integer) * timedelta(seconds=1))  # noqa: SIM300 (a column)
    .order_by(_LOOKED_AT)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(key_share=True, skip_locked=True)  # a leg applying it now moves it on itself
)
# Each look is recorded, so the next sweep takes the next transfers in line: a transfer the sweep
# cannot move on (its credit still queued) never keeps another from being looked at.
_SWEEP = (
    update(transfers)
    .where(transfers.c.id.in_(_DUE_IDS))
    .values(swept_at=func.now())
    .returning(
        transfers.c.id,
        transfers.c.from_wallet_id,
        transfers.c.to_wallet_id,
        transfers.c.amount,
        transfers.c.api_key_id,
        transfers.c.created_at,
    )
)
_REASONS = (
    func.unnest(_IDS, bindparam("reasons", type_=ARRAY(Text)))
    .table_valued("id", "reason", name="reasons")
    .render_derived()
)
_SET_ASIDE = (
    update(transfers)
    .where(transfers.c.id == _REASONS.c.id)
    .where(transfers.c.state == TransferState.PENDING.value)
    .values(stalled=_REASONS.c.reason)
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
            for row in conn.execute(_LEG_RESULTS, {"ids": sorted(credits)}):
                if row.status == OperationStatus.REJECTED.value:
                    credit_errors[credits[row.id]] = row.error
        return cls(shard_count, inline, states, credit_errors)

    def _same_shard(self, request: OperationRequest) -> bool:
        assert request.counterparty_id is not None
        return shard_for(request.wallet_id, self.shard_count) == shard_for(request.counterparty_id, self.shard_count)

    def inline_credit(self, debit: OperationRequest) -> OperationRequest | None:
        """The credit to apply with ``debit``, in its transaction: both wallets share a shard."""
        return credit_of(debit) if self._same_shard(debit) else None

    def opened(self, debit: OperationRequest, refusal: Rejection | None) -> None:
        """The record of a newly decided debit: ``failed`` if refused, else ``pending``."""
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


def follow_ups(
    requests: Sequence[OperationRequest], results: Sequence[OperationResult], *, shard_count: int
) -> list[OperationRequest]:
    """The legs to enqueue once the transaction that decided ``results`` has committed: the
    credit of each debit applied across shards, the refund of each credit refused. A leg
    enqueued again (a batch redelivered) is answered from the ledger."""
    legs: list[OperationRequest] = []
    for request, result in zip(requests, results, strict=True):
        if result.operation_id != request.operation_id:
            continue  # answered from the operation its Idempotency-Key first named
        if request.starts_transfer and result.status is OperationStatus.APPLIED:
            assert request.counterparty_id is not None
            if shard_for(request.wallet_id, shard_count) != shard_for(request.counterparty_id, shard_count):
                legs.append(credit_of(request))
        elif request.operation_type.kind.leg is TransferLeg.CREDIT and result.status is OperationStatus.REJECTED:
            legs.append(refund_of(request))
    return legs


def legs_enqueue(
    pipe: redis.client.Pipeline,
    connection: redis.Redis,
    legs: Sequence[OperationRequest],
    *,
    shard_count: int,
    result_ttl: int,
    failure_ttl: int,
) -> None:
    """Queue on ``pipe`` the enqueue of each leg on its wallet's shard, and ring its bell."""
    for leg in legs:
        shard = shard_for(leg.wallet_id, shard_count)
        for command in enqueue_commands(
            connection=connection, request=leg, shard=shard, result_ttl=result_ttl, failure_ttl=failure_ttl
        ):
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        pipe.rpush(keys.bell_key(shard), 1)


@dataclass(frozen=True, slots=True)
class Undone:
    """What the sweep found left undone: credits to enqueue again (if Redis lost them),
    refunds to apply, and transfers it cannot move on, with why (to set aside)."""

    credits: list[OperationRequest]
    refunds: list[OperationRequest]
    stalled: dict[UUID, str] = field(default_factory=dict)


def transfers_due(conn: Connection, shards: Sequence[int], *, grace: float, limit: int) -> Undone:
    """The next leg of each transfer of ``shards`` no leg or sweep has moved or looked at for
    ``grace`` seconds, oldest look first; each one's look is recorded (``swept_at``)."""
    rows = conn.execute(_SWEEP, {"shards": list(shards), "grace": int(grace), "limit": limit}).all()
    credits = [
        credit_of(
            OperationRequest(
                operation_id=row.id,
                wallet_id=row.from_wallet_id,
                operation_type=OperationType.TRANSFER_OUT,
                amount=row.amount,
                created_at=row.created_at,
                api_key_id=row.api_key_id,
                transfer_id=row.id,
                counterparty_id=row.to_wallet_id,
            )
        )
        for row in rows
    ]
    if not credits:
        return Undone([], [])
    leg_ids = [c.operation_id for c in credits] + [refund_id(row.id) for row in rows]
    decided = {row.id: (row.status, row.error) for row in conn.execute(_LEG_RESULTS, {"ids": leg_ids})}
    undone = Undone([], [])
    for credit in credits:
        assert credit.transfer_id is not None
        credit_status, _ = decided.get(credit.operation_id, (None, None))
        refund = decided.get(refund_id(credit.transfer_id))
        if credit_status is None:
            undone.credits.append(credit)
        elif credit_status != OperationStatus.REJECTED.value:
            undone.stalled[credit.transfer_id] = "its credit was applied but the transfer is still pending"
        elif refund is None:
            undone.refunds.append(refund_of(credit))
        else:
            undone.stalled[credit.transfer_id] = _refund_refused(refund[1])
    return undone


def _refund_refused(error: str | None) -> str:
    return f"its refund was refused: {error}"


def refunds_refused(refunds: Sequence[OperationRequest], results: Sequence[OperationResult]) -> dict[UUID, str]:
    """The transfers of the ``refunds`` that ``results`` refused, with why (to set aside)."""
    return {
        refund.transfer_id: _refund_refused(result.error)
        for refund, result in zip(refunds, results, strict=True)
        if refund.transfer_id is not None and result.status is OperationStatus.REJECTED
    }


def transfers_set_aside(conn: Connection, reasons: dict[UUID, str]) -> None:
    """Take pending transfers out of the sweep, with why, for an operator (``/metrics``'
    ``wallet_transfers_stalled``, the admin): the sweep cannot move them on."""
    if not reasons:
        return
    for transfer_id, reason in reasons.items():
        log.error("transfer %s set aside, pending: %s", transfer_id, reason)
    ids = sorted(reasons)
    conn.execute(_SET_ASIDE, {"ids": ids, "reasons": [reasons[i] for i in ids]})
