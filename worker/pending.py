"""Settling operations answered ``202``: what the web recorded in ``pending_operations``.

A web node records an operation there before answering 202 (its reply was late, or Redis
failed after the enqueue was sent). The worker that owns the operation's shard settles every
such record it finds older than ``PENDING_GRACE`` whose RQ job no longer exists in Redis:
the job finished (the ledger has the row), or Redis lost it (a restart without persistence, a
flush), or it was never queued. Applying it through ``ledger_apply`` covers all three:
an operation already in the ledger is answered from its row and changes nothing, so a 202
is never lost and never applied twice. One that was never queued because its key's rate
limit refused it (the web gave the 202 not knowing) is recorded as refused, never applied.
A record whose job still exists is left to the queue, which keeps its order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import redis
from sqlalchemy import Connection, Integer, SmallInteger, Uuid, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from shared import keys
from shared.ledger import PENDING_COLUMNS, request_from_pending
from shared.messages import OperationRequest
from shared.tables import pending_operations

PENDING_GRACE = 10.0
"""Seconds a pending record is left to the queue before its shard's worker looks at it."""

SETTLE_EVERY = 2.0
"""Seconds between a worker's looks at the pending records of its shards."""

SETTLE_BATCH = 200
"""Most pending records settled in one transaction."""

_SHARDS = bindparam("shards", type_=ARRAY(SmallInteger))
_IDS = bindparam("ids", type_=ARRAY(Uuid))

_DUE = (
    select(*(pending_operations.c[column] for column in PENDING_COLUMNS))
    .where(pending_operations.c.settled_at.is_(None))
    .where(pending_operations.c.shard == any_(_SHARDS))
    .where(pending_operations.c.recorded_at < func.now() - bindparam("grace", type_=Integer) * timedelta(seconds=1))
    .order_by(pending_operations.c.recorded_at)
    .limit(bindparam("limit", type_=Integer))
)

_SETTLE = update(pending_operations).where(pending_operations.c.id == any_(_IDS)).values(settled_at=func.now())


def pending_due(conn: Connection, shards: Sequence[int], *, grace: float, limit: int) -> list[OperationRequest]:
    """Unsettled records of ``shards`` older than ``grace`` seconds, oldest first."""
    rows = conn.execute(_DUE, {"shards": list(shards), "grace": int(grace), "limit": limit})
    return [request_from_pending(row) for row in rows]


def jobs_gone(connection: redis.Redis, requests: Sequence[OperationRequest]) -> list[OperationRequest]:
    """Those of ``requests`` whose RQ job Redis no longer holds, in one round trip."""
    with connection.pipeline(transaction=False) as pipe:
        for request in requests:
            pipe.exists(keys.job_key(request.operation_id))
        found = pipe.execute()
    return [request for request, exists in zip(requests, found, strict=True) if not exists]


@dataclass(frozen=True, slots=True)
class Unsettled:
    """What became of due pending records' jobs, as Redis tells."""

    gone: list[OperationRequest]
    """No job: finished, lost, or never queued; applied (or answered from the ledger)."""
    refused: list[OperationRequest]
    """Refused by a rate limit (``keys.refused_key``): never queued, recorded as refused."""


def unsettled_sort(connection: redis.Redis, requests: Sequence[OperationRequest]) -> Unsettled:
    """Which of ``requests`` have no job any more, and which of those a rate limit refused, in
    one round trip. A record whose job still exists is neither: the queue keeps its order."""
    with connection.pipeline(transaction=False) as pipe:
        for request in requests:
            pipe.exists(keys.job_key(request.operation_id))
            pipe.exists(keys.refused_key(request.operation_id))
        found = pipe.execute()
    unsettled = Unsettled([], [])
    for request, has_job, refused in zip(requests, found[::2], found[1::2], strict=True):
        if refused:
            unsettled.refused.append(request)
        elif not has_job:
            unsettled.gone.append(request)
    return unsettled


def pending_mark_settled(conn: Connection, operation_ids: Sequence[UUID]) -> None:
    """Mark records settled (inside the transaction that applied or answered them)."""
    conn.execute(_SETTLE, {"ids": list(operation_ids)})
