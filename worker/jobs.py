"""The RQ job function an operation is enqueued as.

``ShardWorker`` never calls it: it reads the job's argument and applies whole
batches. It exists so that a job is a complete RQ job: a stock ``rq worker``
(or ``Job.perform()`` in a test) applies the operation one at a time through
the same ``ledger_apply``, replies the same way and enqueues a transfer's next leg.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine

from shared.config import get_settings
from shared.connections import engine_from_settings, get_redis
from shared.messages import OperationRequest
from shared.replies import Reply, replies_push
from worker.apply import ledger_apply
from worker.transfers import follow_ups, legs_enqueue


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return engine_from_settings(get_settings(), pool_size=1)


def operation_apply_job(payload: dict[str, Any]) -> dict[str, Any]:
    request = OperationRequest.from_wire(payload)
    settings = get_settings()
    with _engine().begin() as conn:
        applied = ledger_apply(conn, [request], shard_count=settings.shard_count)
    [result] = applied.results
    connection = get_redis()
    with connection.pipeline(transaction=True) as pipe:
        # A transfer's next leg, as the ShardWorker enqueues it (``worker.transfers``).
        legs = follow_ups([request], [result], shard_count=settings.shard_count)
        legs_enqueue(
            pipe,
            legs,
            shard_count=settings.shard_count,
            result_ttl=settings.result_ttl,
            failure_ttl=settings.failure_ttl,
        )
        replies_push(pipe, [Reply.to(request, result), *applied.inline_legs])
        pipe.execute()
    return result.to_wire()
