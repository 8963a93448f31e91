"""A transfer's legs: three ledger operations whose ids all derive from the transfer's id.

- the **debit** (``TRANSFER_OUT``) of the source, whose operation id is the transfer id: the
  decision point, applied by the worker of the source's shard, which writes the transfer's
  record (``transfers``) in the same transaction;
- the **credit** (``TRANSFER_IN``) of the destination, applied by the worker of the
  destination's shard (the same transaction as the debit when both wallets share a shard);
- the **refund** (``TRANSFER_REFUND``) of the source, only when the destination refused the
  credit.

Every leg's id is known from the transfer id alone, so any worker can enqueue a leg again
and the ledger's primary key makes sure it is applied at most once.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from uuid import UUID

from shared.messages import OperationRequest
from shared.operations import OperationType

_LEGS = UUID("1f6a7b52-5d0e-4c4e-9a53-4b1a3c9f2d10")
"""The namespace of the derived leg ids (fixed forever: changing it would change every id)."""


class TransferState(StrEnum):
    PENDING = "pending"
    """Debited, not yet credited (or refused by the destination and not yet refunded)."""
    COMPLETED = "completed"
    FAILED = "failed"
    """Nothing moved (the source could not pay), or the money went back to the source."""


def credit_id(transfer_id: UUID) -> UUID:
    return uuid.uuid5(_LEGS, f"{transfer_id}:credit")


def refund_id(transfer_id: UUID) -> UUID:
    return uuid.uuid5(_LEGS, f"{transfer_id}:refund")


def credit_of(debit: OperationRequest) -> OperationRequest:
    """The credit leg of a transfer, from its debit (a ``TRANSFER_OUT``, or the capture of a
    hold that names a destination)."""
    assert debit.starts_transfer
    assert debit.counterparty_id is not None
    transfer_id = debit.operation_id
    return OperationRequest(
        operation_id=credit_id(transfer_id),
        wallet_id=debit.counterparty_id,
        operation_type=OperationType.TRANSFER_IN,
        amount=debit.amount,
        created_at=debit.created_at,
        api_key_id=debit.api_key_id,
        transfer_id=transfer_id,
        counterparty_id=debit.wallet_id,
        currency=debit.currency,
        reversal_of=debit.reversal_of,
        reference=debit.reference,
        metadata=debit.metadata,
        reply_to=debit.reply_to,
    )


def refund_of(credit: OperationRequest) -> OperationRequest:
    """The refund leg of a transfer, from its credit."""
    assert credit.operation_type is OperationType.TRANSFER_IN
    assert credit.transfer_id is not None
    assert credit.counterparty_id is not None
    return OperationRequest(
        operation_id=refund_id(credit.transfer_id),
        wallet_id=credit.counterparty_id,
        operation_type=OperationType.TRANSFER_REFUND,
        amount=credit.amount,
        created_at=credit.created_at,
        api_key_id=credit.api_key_id,
        transfer_id=credit.transfer_id,
        counterparty_id=credit.wallet_id,
        currency=credit.currency,
        reversal_of=credit.reversal_of,
        reference=credit.reference,
        metadata=credit.metadata,
        reply_to=credit.reply_to,
    )
