"""Transfers on the worker side: the legs that follow a batch, and the sweep that redoes what a
crash left undone (the record each leg moves on: ``worker.transfer_book``).

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
shard finds it (``transfers_due``, every ``SWEEP_EVERY`` s, once nothing has moved it or
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
from uuid import UUID

import redis
from sqlalchemy import (
    Connection,
    Integer,
    SmallInteger,
    Text,
    Uuid,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared import keys
from shared.annotations import stored_metadata
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType, TransferLeg
from shared.outcomes import OperationStatus
from shared.rq_contract import enqueue_commands
from shared.sharding import shard_for
from shared.tables import transfers
from shared.transfers import TransferState, credit_of, refund_id, refund_of
from worker.transfer_book import LEG_RESULTS

log = logging.getLogger(__name__)

TRANSFER_GRACE = 5.0
"""Seconds a pending transfer is left to its legs' jobs before its source's worker looks at it."""

SWEEP_BATCH = 200
"""Most pending transfers looked at in one sweep."""

SWEEP_EVERY = 2.0
"""Seconds between a worker's sweeps of the pending transfers of its shards."""

_IDS = bindparam("ids", type_=ARRAY(Uuid))
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
        transfers.c.currency,
        transfers.c.reversal_of,
        transfers.c.reference,
        transfers.c.metadata,
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
    legs: Sequence[OperationRequest],
    *,
    shard_count: int,
    result_ttl: int,
    failure_ttl: int,
) -> None:
    """Queue on ``pipe`` the enqueue of each leg on its wallet's shard, and ring its bell."""
    for leg in legs:
        shard = shard_for(leg.wallet_id, shard_count)
        for command in enqueue_commands(request=leg, shard=shard, result_ttl=result_ttl, failure_ttl=failure_ttl):
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
                currency=row.currency,
                reversal_of=row.reversal_of,
                reference=row.reference,
                metadata=stored_metadata(row.metadata),
            )
        )
        for row in rows
    ]
    if not credits:
        return Undone([], [])
    leg_ids = [c.operation_id for c in credits] + [refund_id(row.id) for row in rows]
    decided = {row.id: (row.status, row.error) for row in conn.execute(LEG_RESULTS, {"ids": leg_ids})}
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
