"""Writes, as the web node sees them: create a wallet, submit an operation to its shard.

The life of an operation with an ``Idempotency-Key`` is all here: the key's Redis record is
claimed together with the enqueue (``queueing.operation_send``); a key already taken is
answered from the ledger, which names the key's operation for good, or, while that one is in
flight, waited for (then 409).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import redis

from shared.config import Settings
from shared.connections import write
from shared.errors import Conflict, OutcomeUnknown, ServiceUnavailable, StatementRefused, Unprocessable
from shared.messages import OperationRequest, OperationResult, Rejection
from shared.sharding import shard_for
from web.wallets.idempotency import KeyClaim, claim_parse, idempotency_record, request_fingerprint
from web.wallets.parsing import OperationInput
from web.wallets.queueing import KeyRecord, operation_send
from web.wallets.selectors import OperationRow, operation_by_key_get, wallet_ensure_exists

log = logging.getLogger(__name__)

IN_FLIGHT = "A request with this Idempotency-Key is still in progress"

REPLAY_POLL = 0.02
"""Seconds between ledger reads while a replayed key's first request is in flight."""

_WALLET_INSERT = "INSERT INTO wallets (id) VALUES (%s) ON CONFLICT (id) DO NOTHING"
_PENDING_INSERT = (
    "INSERT INTO pending_operations (id, wallet_id, shard, operation_type, amount, idempotency_key, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Submission:
    operation_id: UUID
    result: OperationResult | None
    """The worker's answer, or None when it is not known yet (answered 202)."""


@dataclass(frozen=True, slots=True)
class NewWallet:
    id: UUID
    balance: Decimal


def wallet_create() -> NewWallet:
    wallet_id = uuid4()
    write(_WALLET_INSERT, (str(wallet_id),))
    return NewWallet(wallet_id, Decimal(0))


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
    ours: KeyClaim | None = None
    record: KeyRecord | None = None
    if idempotency_key is not None:
        ours = KeyClaim(request_fingerprint(wallet_id, operation), request.operation_id)
        record = idempotency_record(wallet_id=wallet_id, key=idempotency_key, claim=ours)
    try:
        delivery = operation_send(
            connection=connection, settings=settings, request=request, wait=settings.reply_timeout, record=record
        )
    except OutcomeUnknown as exc:
        log.warning("answering 202: %s", exc)
        pending_record(request=request, settings=settings)
        return Submission(operation_id=request.operation_id, result=None)
    if delivery.earlier is not None:
        assert idempotency_key is not None
        assert ours is not None
        return operation_replay(
            wallet_id=wallet_id,
            idempotency_key=idempotency_key,
            fingerprint=ours.fingerprint,
            in_flight=claim_parse(delivery.earlier),
            wait=settings.reply_timeout,
        )
    if delivery.result is None:
        pending_record(request=request, settings=settings)
    return Submission(operation_id=request.operation_id, result=delivery.result)


def pending_record(*, request: OperationRequest, settings: Settings) -> None:
    """Make an operation about to be answered 202 durable: whatever Redis loses, the shard's
    worker applies it from PostgreSQL (``worker.pending``) or finds it decided."""
    try:
        write(
            _PENDING_INSERT,
            (
                str(request.operation_id),
                str(request.wallet_id),
                shard_for(request.wallet_id, settings.shard_count),
                request.operation_type.value,
                request.amount,
                request.idempotency_key,
                request.created_at,
            ),
        )
    except (ServiceUnavailable, StatementRefused):
        # Still a 202: the operation may be queued; with PostgreSQL down it is not applied either.
        log.error("could not record pending operation %s", request.operation_id, exc_info=True)


def _fingerprint_of(row: OperationRow) -> str:
    return request_fingerprint(row.wallet_id, OperationInput(row.operation_type, row.amount))


def operation_replay(
    *, wallet_id: UUID, idempotency_key: str, fingerprint: str, in_flight: KeyClaim, wait: float
) -> Submission:
    """The answer to a request whose Idempotency-Key is taken.

    The ledger decides: once the key's operation is in it, the same request replays its result
    and any other is refused, whatever the Redis record says (it may have been lost and
    rewritten by another request). Until then the record names the request in flight: a
    different one is refused at once, the same one waits up to ``wait`` s, then 409.
    """
    deadline = time.monotonic() + wait
    while True:
        row = operation_by_key_get(wallet_id=wallet_id, idempotency_key=idempotency_key)
        if row is not None:
            if _fingerprint_of(row) != fingerprint:
                raise Unprocessable(Rejection.IDEMPOTENCY_MISMATCH.value)
            return Submission(row.id, OperationResult.from_row(row))
        if in_flight.fingerprint != fingerprint:
            raise Unprocessable(Rejection.IDEMPOTENCY_MISMATCH.value)
        if time.monotonic() >= deadline:
            raise Conflict(IN_FLIGHT)
        time.sleep(REPLAY_POLL)
