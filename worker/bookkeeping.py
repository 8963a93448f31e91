"""RQ's bookkeeping for a whole batch, and every reply, in one Redis pipeline.

Stock RQ spends ~20 round trips per job. Here a batch of jobs is finished
with the same RQ calls a stock worker makes for one job (status, result
stream, finished or failed registry, TTLs, worker counters), queued on one
pipeline together with each operation's reply key. The RQ internals used are
pinned by ``requirements/base.txt`` and covered by ``tests/worker/test_rq_contract.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import redis
from rq.job import Job, JobStatus
from rq.utils import now

from shared import keys
from shared.messages import OperationResult

BATCH_SIZE_BOUNDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Upper bounds of the batch-size histogram buckets (``/metrics``: wallet_batch_size)."""


def batch_size_bucket(size: int) -> str:
    """The histogram field a batch of ``size`` is counted in (non-cumulative; summed at scrape)."""
    return next((f"le_{bound}" for bound in BATCH_SIZE_BOUNDS if size <= bound), "le_inf")


@dataclass(frozen=True, slots=True)
class Finished:
    job: Job
    result: OperationResult


@dataclass(frozen=True, slots=True)
class Failed:
    job: Job
    reason: str


def batch_finish(
    pipeline: redis.client.Pipeline,
    *,
    worker_key: str,
    worker_name: str,
    started_at: datetime,
    finished: Sequence[Finished],
    failed: Sequence[Failed],
    reply_ttl: int,
    default_result_ttl: int,
) -> None:
    """Queue on ``pipeline`` what marks every job of a batch done and wakes its web request."""
    ended_at = now()
    for item in finished:
        job = item.job
        job.started_at, job.ended_at = started_at, ended_at
        job._status = JobStatus.FINISHED
        job._result = item.result.to_wire()
        result_ttl = job.get_result_ttl(default_result_ttl)
        job._handle_success(result_ttl, pipeline=pipeline, worker_name=worker_name)
        job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
        # The job id is the operation id the web node waits on (a keyed retry's result names the original).
        reply = keys.reply_key(UUID(job.id))
        pipeline.rpush(reply, item.result.to_bytes())
        pipeline.expire(reply, reply_ttl)
    for poison in failed:
        job = poison.job
        job.started_at, job.ended_at = started_at, ended_at
        job._status = JobStatus.FAILED
        job.set_status(JobStatus.FAILED, pipeline=pipeline)
        job._handle_failure(poison.reason, pipeline=pipeline, worker_name=worker_name)
    size = len(finished) + len(failed)
    pipeline.hincrby(keys.BATCH_SIZES_KEY, batch_size_bucket(size), 1)
    pipeline.hincrby(keys.BATCH_SIZES_KEY, "count", 1)
    pipeline.hincrby(keys.BATCH_SIZES_KEY, "sum", size)
    if finished:
        pipeline.hincrby(worker_key, "successful_job_count", len(finished))
    if failed:
        pipeline.hincrby(worker_key, "failed_job_count", len(failed))
    pipeline.hincrbyfloat(worker_key, "total_working_time", (ended_at - started_at).total_seconds())
