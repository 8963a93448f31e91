"""Holds, as the web node sees them: queue a hold, a capture or a void on the shard of the
hold's wallet, and wait for the worker's answer (``worker.holds`` decides).

The web writes no hold: it checks that the wallets are the caller's tenant's, names the
request, and answers what the worker decided. A capture of a hold with a ``to`` wallet is a
transfer's debit (its operation id is the transfer id), so its answer waits for the credit like
a transfer's (``web.wallets.money.transfers``). An ``Idempotency-Key`` is scoped to the hold's wallet,
and a retry is answered from the ledger, like an operation's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from shared.errors import NotFound
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType, starts_transfer
from shared.outcomes import Rejection
from shared.resources import HoldRow
from web.wallets.auth.api_keys import Caller
from web.wallets.inputs import HoldInput, PartialInput
from web.wallets.money.currencies import amount_in, currency_shared
from web.wallets.money.selectors import KnownWallet, hold_get, wallet_ensure_reachable
from web.wallets.money.services import WriteContext, request_submit
from web.wallets.money.transfers import TransferAnswer, debit_follow

HOLD_NOT_FOUND = Rejection.HOLD_NOT_FOUND.value


@dataclass(frozen=True, slots=True)
class HoldAnswer:
    """A hold request's answer: the worker's result (None: not known in time, a 202)."""

    hold_id: UUID
    result: OperationResult | None
    expires_at: datetime
    amount: Decimal
    currency: str
    replayed: bool = False
    """Answered for an Idempotency-Key already used (``Idempotent-Replayed``)."""


@dataclass(frozen=True, slots=True)
class ChangeAnswer:
    """A capture's or void's answer."""

    hold: HoldRow
    kind: OperationType
    amount: Decimal
    """Captured (a capture) or released (a void)."""
    result: OperationResult | None
    transfer: TransferAnswer | None = None
    """A capture to a wallet: what became of its transfer."""
    replayed: bool = False
    """Answered for an Idempotency-Key already used (``Idempotent-Replayed``)."""


def hold_submit(
    *,
    wallet_id: UUID,
    hold: HoldInput,
    context: WriteContext,
) -> HoldAnswer:
    """Queue a hold on its wallet's shard and wait for the worker's answer. The wallet and the
    ``to`` wallet must be the caller's tenant's (``NotFound`` otherwise) and hold one currency
    (a 400 otherwise), before anything is queued."""
    wallet = wallet_ensure_reachable(wallet_id=wallet_id, caller=context.caller)
    if hold.to_wallet is not None:
        currency_shared(wallet, wallet_ensure_reachable(wallet_id=hold.to_wallet, caller=context.caller))
    hold_id = uuid4()
    created_at = datetime.now(UTC)
    request = OperationRequest(
        operation_id=hold_id,
        wallet_id=wallet_id,
        operation_type=OperationType.HOLD,
        amount=amount_in(hold.amount, wallet),
        created_at=created_at,
        idempotency_key=context.idempotency_key,
        api_key_id=context.caller.key_id,
        counterparty_id=hold.to_wallet,
        hold_id=hold_id,
        expires_at=created_at + timedelta(seconds=hold.expires_in),
        currency=wallet.currency,
        **hold.annotations.as_fields(),
    )
    submission = request_submit(request=request, context=context)
    result = submission.result
    assert request.expires_at is not None
    if result is not None and result.operation_id != hold_id:
        # A retry: its Idempotency-Key names an earlier hold, whose expiry the record keeps.
        earlier = hold_get(hold_id=result.operation_id)
        if earlier is not None:
            return HoldAnswer(
                earlier.id, result, earlier.expires_at, earlier.amount, earlier.currency, submission.replayed
            )
        # A refused hold has no record: the same request (the key's fingerprint matched).
        return HoldAnswer(
            result.operation_id, result, request.expires_at, request.amount, wallet.currency, submission.replayed
        )
    return HoldAnswer(hold_id, result, request.expires_at, request.amount, wallet.currency, submission.replayed)


def hold_reachable_get(*, hold_id: UUID, caller: Caller) -> HoldRow:
    """A hold of a wallet the caller reaches; ``NotFound`` for any other, or none."""
    return _hold_reached(hold_id, caller)[0]


def _hold_reached(hold_id: UUID, caller: Caller) -> tuple[HoldRow, KnownWallet]:
    row = hold_get(hold_id=hold_id)
    if row is None:
        raise NotFound(HOLD_NOT_FOUND)
    return row, wallet_ensure_reachable(wallet_id=row.wallet_id, caller=caller, not_found=HOLD_NOT_FOUND)


def hold_change_submit(
    *,
    hold_id: UUID,
    kind: OperationType,
    change: PartialInput,
    context: WriteContext,
) -> ChangeAnswer:
    """Queue the capture (of ``change.amount``, or all of it) or the void of a hold on its wallet's
    shard and wait for the worker's answer, and, for a capture to a wallet, its transfer's.
    Whether the hold is still active the worker decides, in order with the wallet's other
    operations: a hold is captured or voided once."""
    deadline = time.monotonic() + context.settings.reply_timeout
    hold, wallet = _hold_reached(hold_id, context.caller)
    amount = amount_in(
        hold.amount if kind is OperationType.HOLD_VOID or change.amount is None else change.amount, wallet
    )
    operation_id = uuid4()
    to_wallet = hold.to_wallet_id if kind is OperationType.HOLD_CAPTURE else None
    if to_wallet is not None:  # checked when the hold was made too: a wallet's currency never changes
        currency_shared(wallet, wallet_ensure_reachable(wallet_id=to_wallet, caller=context.caller))
    request = OperationRequest(
        operation_id=operation_id,
        wallet_id=hold.wallet_id,
        operation_type=kind,
        amount=amount,
        created_at=datetime.now(UTC),
        idempotency_key=context.idempotency_key,
        api_key_id=context.caller.key_id,
        transfer_id=operation_id if starts_transfer(kind, to_wallet) else None,
        counterparty_id=to_wallet,
        hold_id=hold.id,
        currency=wallet.currency,
        **change.annotations.as_fields(),
    )
    submission = request_submit(request=request, context=context)
    result = submission.result
    if to_wallet is None or result is None:
        return ChangeAnswer(hold, kind, amount, result, replayed=submission.replayed)
    transfer = debit_follow(context, operation_id, wallet.currency, result, deadline)
    return ChangeAnswer(hold, kind, amount, result, transfer, submission.replayed)
