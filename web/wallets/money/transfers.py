"""Transfers, as the web node sees them: queue the debit on the source's shard, then wait for
the legs' replies (``shared.transfers``, ``worker.transfers``).

The web writes no transfer record and no leg but the debit's job: the worker of the source's
shard decides the transfer and enqueues its credit, the worker of the destination's shard
applies that. The request waits, up to ``REPLY_TIMEOUT`` in all, on the debit's reply and then
on the credit's (and, if the destination refused it, the refund's); past that it is a 202.
An ``Idempotency-Key`` is scoped to the source wallet and names the transfer's debit, so a
retry is answered, like an operation's, from the ledger.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

from shared.errors import OutcomeUnknown
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.transfers import TransferState, credit_id, refund_id
from web.wallets.inputs import TransferInput
from web.wallets.money.currencies import amount_in, currency_shared
from web.wallets.money.queueing import reply_wait
from web.wallets.money.selectors import transfer_get, wallet_ensure_reachable
from web.wallets.money.services import WriteContext, request_submit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TransferAnswer:
    """What is known of a transfer when its request is answered: each leg's result, or None
    while that leg is not known to be decided."""

    transfer_id: UUID
    currency: str
    debit: OperationResult | None
    credit: OperationResult | None = None
    refund: OperationResult | None = None
    replayed: bool = False
    """Answered for an Idempotency-Key already used (``Idempotent-Replayed``)."""

    @property
    def state(self) -> TransferState:
        if self.debit is not None and self.debit.status is OperationStatus.REJECTED:
            return TransferState.FAILED
        if self.credit is not None and self.credit.status is OperationStatus.APPLIED:
            return TransferState.COMPLETED
        if self.refund is not None and self.refund.status is OperationStatus.APPLIED:
            return TransferState.FAILED
        return TransferState.PENDING


def transfer_submit(
    *,
    transfer: TransferInput,
    context: WriteContext,
) -> TransferAnswer:
    """Queue a transfer's debit and wait for its legs, ``REPLY_TIMEOUT`` in all. Both wallets
    must be the caller's tenant's (``NotFound`` otherwise) and hold one currency (a 400
    otherwise), before anything is queued."""
    deadline = time.monotonic() + context.settings.reply_timeout
    source = wallet_ensure_reachable(wallet_id=transfer.from_wallet, caller=context.caller)
    destination = wallet_ensure_reachable(wallet_id=transfer.to_wallet, caller=context.caller)
    currency = currency_shared(source, destination)
    transfer_id = uuid4()
    debit = OperationRequest(
        operation_id=transfer_id,
        wallet_id=transfer.from_wallet,
        operation_type=OperationType.TRANSFER_OUT,
        amount=amount_in(transfer.amount, source),
        created_at=datetime.now(UTC),
        idempotency_key=context.idempotency_key,
        api_key_id=context.caller.key_id,
        transfer_id=transfer_id,
        counterparty_id=transfer.to_wallet,
        currency=currency,
        **transfer.annotations.as_fields(),
    )
    submission = request_submit(request=debit, context=context)
    answer = debit_follow(context, transfer_id, currency, submission.result, deadline)
    return replace(answer, replayed=submission.replayed)


def debit_follow(
    context: WriteContext, transfer_id: UUID, currency: str, debit: OperationResult | None, deadline: float
) -> TransferAnswer:
    """What became of the transfer whose debit (a transfer's, or a capture's to a wallet) was
    answered ``debit`` (None: not yet), waiting for its other legs until ``deadline``."""
    if debit is None:
        return TransferAnswer(transfer_id, currency, None)
    if debit.operation_id != transfer_id:
        # A retry: its Idempotency-Key names an earlier transfer, answered from the ledger.
        return transfer_answer_get(debit, currency)
    return _legs_wait(context, TransferAnswer(transfer_id, currency, debit), deadline)


def _legs_wait(context: WriteContext, answer: TransferAnswer, deadline: float) -> TransferAnswer:
    """Wait until ``deadline`` for the credit after an applied debit, and for the refund after
    a refused credit."""
    if answer.debit is None or answer.debit.status is not OperationStatus.APPLIED:
        return answer
    try:
        credit = reply_wait(
            context.connection, context.settings, credit_id(answer.transfer_id), deadline - time.monotonic()
        )
        answer = replace(answer, credit=credit)
        if credit is not None and credit.status is OperationStatus.REJECTED:
            refund = reply_wait(
                context.connection, context.settings, refund_id(answer.transfer_id), deadline - time.monotonic()
            )
            answer = replace(answer, refund=refund)
    except OutcomeUnknown as exc:  # the transfer is decided: its source's worker completes it
        log.warning("answering 202: %s", exc)
    return answer


def transfer_answer_get(debit: OperationResult, currency: str) -> TransferAnswer:
    """What the ledger says of the transfer whose debit's result is ``debit`` (a retry's answer)."""
    transfer_id = debit.operation_id
    if debit.status is not OperationStatus.APPLIED:
        return TransferAnswer(transfer_id, currency, debit)
    row = transfer_get(transfer_id=transfer_id)
    if row is None:  # not a transfer's debit: cannot be, its key's fingerprint matched
        return TransferAnswer(transfer_id, currency, debit)

    def result(leg: object) -> OperationResult | None:
        return None if leg is None else OperationResult.from_row(leg)  # type: ignore[arg-type]

    return TransferAnswer(transfer_id, row.currency, result(row.debit), result(row.credit), result(row.refund))
