"""Writes, as the web node sees them: create a wallet, submit an operation to its shard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import redis

from shared.config import Settings
from shared.messages import OperationRequest, OperationResult
from web.wallets.models import Wallet
from web.wallets.parsing import OperationInput
from web.wallets.queueing import operation_send
from web.wallets.selectors import wallet_ensure_exists


@dataclass(frozen=True, slots=True)
class Submission:
    request: OperationRequest
    result: OperationResult | None
    """The worker's answer, or None when it did not come within the reply timeout."""


def wallet_create() -> Wallet:
    return Wallet.objects.create()


def operation_submit(
    *, wallet_id: UUID, operation: OperationInput, connection: redis.Redis, settings: Settings
) -> Submission:
    wallet_ensure_exists(wallet_id=wallet_id)
    request = OperationRequest(
        operation_id=uuid4(),
        wallet_id=wallet_id,
        operation_type=operation.operation_type,
        amount=operation.amount,
        created_at=datetime.now(UTC),
    )
    result = operation_send(connection=connection, settings=settings, request=request, wait=settings.reply_timeout)
    return Submission(request=request, result=result)
