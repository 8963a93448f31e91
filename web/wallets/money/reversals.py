"""Reversals, as the web node sees them: find what is reversed, and queue the reversal on the
shard of the wallet whose writer decides it (``worker.reversals``).

- An applied ``DEPOSIT`` or ``WITHDRAW`` is reversed by a ``REVERSE_DEPOSIT`` or
  ``REVERSE_WITHDRAW`` of its wallet, naming it (``reversal_of``).
- A completed transfer is reversed by a transfer the other way, from its destination back to its
  source, whose legs name it.

Either may be partial; without an amount it is all that is left to reverse when the request is
accepted (a retry of a keyed request asks what its first attempt asked, once that one is in the
ledger or answered 202; a retry sent while the first is still waiting for its answer may find
less left, and be refused as another request, 422). The writer decides, in
order with the wallet's money, that the reversals of one original never add up to more than it.
An ``Idempotency-Key`` is scoped, as for every write, to the wallet the money leaves or comes
back to: the operation's own, or the transfer's destination.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from shared.errors import Conflict, InvalidRequest, NotFound
from shared.ledger import LedgerRecord
from shared.messages import OperationRequest
from shared.operations import REVERSAL_OF, OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.transfers import TransferState
from web.wallets.error_codes import NOT_APPLIED, NOT_COMPLETED, OPERATION_NOT_FOUND, TRANSFER_NOT_FOUND
from web.wallets.inputs import PartialInput
from web.wallets.money.currencies import amount_in
from web.wallets.money.idempotency import key_claim_get
from web.wallets.money.selectors import (
    KnownWallet,
    PendingRow,
    operation_by_key_get,
    operation_get,
    operation_reversed_get,
    pending_get,
    transfer_get,
    transfer_reversed_get,
    wallet_ensure_reachable,
)
from web.wallets.money.services import Submission, WriteContext, request_submit
from web.wallets.money.transfers import TransferAnswer, debit_follow


def operation_reversal_submit(
    *, operation_id: UUID, reversal: PartialInput, context: WriteContext
) -> tuple[OperationType, Submission]:
    """Queue the reversal of ``reversal.amount`` (None: all that is left) of an applied deposit or
    withdrawal on its wallet's shard and wait for its answer, as for an operation; with the
    reversal's kind. An operation of a wallet the caller does not reach is not found; one of
    another kind (a reversal too) is a 400; one not applied (pending, or rejected) a 409."""
    original = operation_get(operation_id=operation_id)
    if original is None:
        pending = pending_get(operation_id=operation_id)
        if pending is None:
            raise NotFound(OPERATION_NOT_FOUND)
        wallet_ensure_reachable(wallet_id=pending.wallet_id, caller=context.caller, not_found=OPERATION_NOT_FOUND)
        if pending.operation_type not in REVERSAL_OF:
            raise InvalidRequest(Rejection.NOT_REVERSIBLE.value)
        raise Conflict(NOT_APPLIED)
    wallet = wallet_ensure_reachable(wallet_id=original.wallet_id, caller=context.caller, not_found=OPERATION_NOT_FOUND)
    kind = REVERSAL_OF.get(original.operation_type)
    if kind is None:
        raise InvalidRequest(Rejection.NOT_REVERSIBLE.value)
    if original.status != OperationStatus.APPLIED.value:
        raise Conflict(NOT_APPLIED)
    request = OperationRequest(
        operation_id=uuid4(),
        wallet_id=original.wallet_id,
        operation_type=kind,
        amount=_amount(
            reversal.amount,
            context,
            wallet_id=original.wallet_id,
            wallet=wallet,
            original_id=original.id,
            left=lambda: original.amount - operation_reversed_get(operation_id=original.id),
        ),
        created_at=datetime.now(UTC),
        idempotency_key=context.idempotency_key,
        api_key_id=context.caller.key_id,
        currency=wallet.currency,
        reversal_of=original.id,
        **reversal.annotations.as_fields(),
    )
    return kind, request_submit(request=request, context=context)


def transfer_reversal_submit(*, transfer_id: UUID, reversal: PartialInput, context: WriteContext) -> TransferAnswer:
    """Queue a transfer of ``reversal.amount`` (None: all that is left) of a completed transfer back from
    its destination to its source, and wait for its legs, as for a transfer. A transfer whose
    source the caller does not reach is not found; a reversal of one is a 400; one not completed
    a 409. Whether the destination can pay (its money, its status) its writer decides."""
    deadline = time.monotonic() + context.settings.reply_timeout
    original = transfer_get(transfer_id=transfer_id)
    if original is None:
        pending = pending_get(operation_id=transfer_id)
        if pending is None or pending.operation_type is not OperationType.TRANSFER_OUT:
            raise NotFound(TRANSFER_NOT_FOUND)
        wallet_ensure_reachable(wallet_id=pending.wallet_id, caller=context.caller, not_found=TRANSFER_NOT_FOUND)
        raise Conflict(NOT_COMPLETED)
    source = wallet_ensure_reachable(wallet_id=original.to_wallet, caller=context.caller, not_found=TRANSFER_NOT_FOUND)
    wallet_ensure_reachable(wallet_id=original.from_wallet, caller=context.caller, not_found=TRANSFER_NOT_FOUND)
    if original.reversal_of is not None:
        raise InvalidRequest(Rejection.NOT_REVERSIBLE.value)
    if original.state is not TransferState.COMPLETED:
        raise Conflict(NOT_COMPLETED)
    reversal_id = uuid4()
    debit = OperationRequest(
        operation_id=reversal_id,
        wallet_id=original.to_wallet,
        operation_type=OperationType.TRANSFER_OUT,
        amount=_amount(
            reversal.amount,
            context,
            wallet_id=original.to_wallet,
            wallet=source,
            original_id=original.id,
            left=lambda: original.amount - transfer_reversed_get(transfer_id=original.id),
        ),
        created_at=datetime.now(UTC),
        idempotency_key=context.idempotency_key,
        api_key_id=context.caller.key_id,
        transfer_id=reversal_id,
        counterparty_id=original.from_wallet,
        currency=original.currency,
        reversal_of=original.id,
        **reversal.annotations.as_fields(),
    )
    submission = request_submit(request=debit, context=context)
    answer = debit_follow(context, reversal_id, original.currency, submission.result, deadline)
    return replace(answer, replayed=submission.replayed)


def _amount(
    amount: Decimal | None,
    context: WriteContext,
    *,
    wallet_id: UUID,
    wallet: KnownWallet,
    original_id: UUID,
    left: Callable[[], Decimal],
) -> Decimal:
    """The amount a reversal of ``original_id`` from (or back to) ``wallet_id`` asks for:
    ``amount`` in the wallet's currency, or, if none was given, what its key's first attempt
    asked (decided, or answered 202), else all that is ``left`` of the original now (a 400 when
    nothing is: its writer would refuse it)."""
    if amount is not None:
        return amount_in(amount, wallet)
    key = context.idempotency_key
    if key is not None:
        earlier: LedgerRecord | PendingRow | None = operation_by_key_get(wallet_id=wallet_id, idempotency_key=key)
        if earlier is None:
            claim = key_claim_get(context.connection, wallet_id=wallet_id, key=key)
            earlier = None if claim is None else pending_get(operation_id=claim.operation_id)
        if earlier is not None and earlier.reversal_of == original_id:
            return earlier.amount
    rest = left()
    if rest <= 0:
        raise InvalidRequest(Rejection.REVERSAL_TOO_LARGE.value)
    return rest
