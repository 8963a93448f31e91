"""How the worker applies each kind of operation: one handler per ``OperationType``
(``HANDLERS``), each deciding one request of a ``LedgerBatch`` and moving on the record its
kind names (a transfer's, a hold's). ``tests/worker/test_handlers.py`` holds the table whole.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.replies import Reply
from shared.transfers import refund_of
from worker.ledger_batch import LedgerBatch

Handler = Callable[[LedgerBatch, OperationRequest], OperationResult]


def _own_money(batch: LedgerBatch, request: OperationRequest) -> OperationResult:
    """An operation of its wallet alone: its money and controls decide (``LedgerBatch.refusal``;
    a wallet update is one too, and so is a reversal, with what is left to reverse)."""
    return batch.decide(request)


def _debit(batch: LedgerBatch, request: OperationRequest) -> OperationResult:
    """A transfer's debit (or a capture to a wallet), which opens the transfer's record. Across
    shards the money is pending until the credit or refund; within one shard the other legs are
    decided in the debit's transaction (``_legs_within``)."""
    credit = batch.transfers.inline_credit(request)
    refusal = batch.holds.refusal(request) if request.operation_type.kind.resolves_hold else None
    if refusal is None and credit is not None and credit.wallet_id not in batch.balances:
        refusal = Rejection.WALLET_NOT_FOUND  # no destination to own the credit's row
    result = batch.decide(request, refusal)
    batch.transfers.opened(request, result.rejection, batch.currencies[request.wallet_id])
    if result.status is OperationStatus.APPLIED:
        if credit is not None:
            _legs_within(batch, credit)
        else:
            batch.outgoings[request.wallet_id] += request.amount  # pending until its credit or refund
    return result


def _legs_within(batch: LedgerBatch, credit: OperationRequest) -> None:
    """The credit of a debit just applied within its shard, and its refund if the destination
    refuses it: the rows, records and answers the legs would have across shards, so a transfer
    reads the same wherever its wallets live."""
    credited = batch.decide(credit)
    batch.applied.inline_legs.append(Reply.to(credit, credited))
    if credited.status is OperationStatus.APPLIED:
        batch.transfers.completed(credit)
        return
    refund = refund_of(credit)
    batch.applied.inline_legs.append(Reply.to(refund, batch.decide(refund)))  # money that returns: never refused
    batch.transfers.returned(credit, credited.error)


def _credit(batch: LedgerBatch, request: OperationRequest) -> OperationResult:
    result = batch.decide(request, batch.transfers.credit_refusal(request))
    if result.status is OperationStatus.APPLIED:
        batch.transfers.completed(request)
    return result


def _refund(batch: LedgerBatch, request: OperationRequest) -> OperationResult:
    result = batch.decide(request, batch.transfers.refund_refusal(request))
    if result.status is OperationStatus.APPLIED:
        batch.transfers.refunded(request)
        batch.outgoings[request.wallet_id] -= request.amount
    return result


def _hold_change(batch: LedgerBatch, request: OperationRequest) -> OperationResult:
    return batch.decide(request, batch.holds.refusal(request))


def _capture(batch: LedgerBatch, request: OperationRequest) -> OperationResult:
    return _debit(batch, request) if request.starts_transfer else _hold_change(batch, request)


HANDLERS: dict[OperationType, Handler] = {
    OperationType.DEPOSIT: _own_money,
    OperationType.WITHDRAW: _own_money,
    OperationType.TRANSFER_OUT: _debit,
    OperationType.TRANSFER_IN: _credit,
    OperationType.TRANSFER_REFUND: _refund,
    OperationType.HOLD: _own_money,
    OperationType.HOLD_CAPTURE: _capture,
    OperationType.HOLD_VOID: _hold_change,
    OperationType.HOLD_EXPIRE: _hold_change,
    OperationType.WALLET_UPDATE: _own_money,
    OperationType.REVERSE_DEPOSIT: _own_money,
    OperationType.REVERSE_WITHDRAW: _own_money,
}
"""The handler of each kind (every ``OperationType`` has one)."""
