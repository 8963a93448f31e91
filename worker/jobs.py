"""The RQ job function an operation is enqueued as.

``ShardWorker`` never calls it: it reads the job's argument and applies whole
batches. It exists so that a job is a complete RQ job: a stock ``rq worker``
(or ``Job.perform()`` in a test) applies the operation one at a time through
the same ``operations_apply`` and replies the same way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine

from shared import keys
from shared.config import get_settings
from shared.connections import engine_from_settings, get_redis
from shared.messages import OperationRequest
from worker.apply import operations_apply


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return engine_from_settings(get_settings(), pool_size=1)


def operation_apply_job(payload: dict[str, Any]) -> dict[str, Any]:
    request = OperationRequest.from_wire(payload)
    with _engine().begin() as conn:
        [result] = operations_apply(conn, [request], shard_count=get_settings().shard_count)
    reply = keys.reply_key(request.operation_id)
    with get_redis().pipeline(transaction=True) as pipe:
        pipe.rpush(reply, result.to_bytes())
        pipe.expire(reply, get_settings().reply_ttl)
        pipe.execute()
    return result.to_wire()
