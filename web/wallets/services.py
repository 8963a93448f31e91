"""Writes, as the web node sees them: create a wallet, submit an operation to its shard."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import redis

from shared.config import Settings
from shared.errors import Conflict, Unprocessable
from shared.messages import OperationRequest, OperationResult, OperationStatus, Rejection
from web.wallets.idempotency import Claim, claim_parse, idempotency_record, request_fingerprint
from web.wallets.models import Wallet
from web.wallets.parsing import OperationInput
from web.wallets.queueing import operation_send
from web.wallets.selectors import operation_get, wallet_ensure_exists

IN_FLIGHT = "A request with this Idempotency-Key is still in progress"

REPLAY_POLL = 0.02
"""Seconds between ledger reads while a replayed key's first request is in flight."""


@dataclass(frozen=True, slots=True)
class Submission:
    operation_id: UUID
    result: OperationResult | None
    """The worker's answer, or None when it did not come within the reply timeout."""


def wallet_create() -> Wallet:
    return Wallet.objects.create()


def operation_submit(
    *,
    wallet_id: UUID,
    operation: OperationInput,
    idempotency_key: str | None = None,
    connection: redis.Redis,
    settings: Settings,
) -> Submission:
    wallet_ensure_exists(wallet_id=wallet_id)
    request = OperationRequest(
        operation_id=uuid4(),
        wallet_id=wallet_id,
        operation_type=operation.operation_type,
        amount=operation.amount,
        created_at=datetime.now(UTC),
        idempotency_key=idempotency_key,
    )
    if idempotency_key is None:
        sent = operation_send(connection=connection, settings=settings, request=request, wait=settings.reply_timeout)
        return Submission(operation_id=request.operation_id, result=sent.result)
    ours = Claim(request_fingerprint(wallet_id, operation), request.operation_id)
    sent = operation_send(
        connection=connection,
        settings=settings,
        request=request,
        wait=settings.reply_timeout,
        record=idempotency_record(wallet_id=wallet_id, key=idempotency_key, claim=ours),
    )
    if sent.earlier is None:
        return Submission(operation_id=request.operation_id, result=sent.result)
    earlier = claim_parse(sent.earlier)
    if earlier.fingerprint != ours.fingerprint:
        raise Unprocessable(Rejection.IDEMPOTENCY_MISMATCH.value)
    return operation_replay(operation_id=earlier.operation_id, wait=settings.reply_timeout)


def operation_replay(*, operation_id: UUID, wait: float) -> Submission:
    """The result of an earlier request, from the ledger, waiting up to ``wait`` s while it is in flight."""
    deadline = time.monotonic() + wait
    while True:
        row = operation_get(operation_id=operation_id)
        if row is not None:
            status = OperationStatus(row.status)
            return Submission(operation_id, OperationResult(row.id, status, row.balance_after, row.error))
        if time.monotonic() >= deadline:
            raise Conflict(IN_FLIGHT)
        time.sleep(REPLAY_POLL)
