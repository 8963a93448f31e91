"""One batch, from claim to reply: the four steps of the shard worker's loop.

1. claim  (``worker.claim.batch_claim``): up to ``BATCH_SIZE`` job ids move atomically from
   the leased shards' queues to this worker's processing lists;
2. fetch  (``batch_fetch``): the jobs' data, each parsed into an operation (a job that is not
   one of ours is poison);
3. apply  (``batch_apply``): every operation in one transaction on the lease connection
   (``worker.apply``), with the failure policy below;
4. finish (``batch_finish``): RQ's bookkeeping, the replies the web waits on, the batch-size
   histogram and the processing lists cleared, in one Redis round trip.

A new kind of operation is parsed in ``job_request`` and applied in ``worker.apply``; the
other steps only carry jobs. Failure policy, in ``batch_apply``: a condition of the database
gives up the leases (``LeasesLost``) and the batch is requeued, to be applied later; an
operation that can never apply is isolated and recorded in the ledger as rejected, so its
final answer never changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from shared.batch_metrics import BATCH_SECONDS, BATCH_SIZES
from shared.config import Settings
from shared.errors import MalformedMessage
from shared.messages import OPERATION_JOB, OperationRequest, OperationResult
from shared.outcomes import Rejection
from shared.replies import Reply, replies_push
from shared.rq_contract import Failed, Finished, job_call, jobs_fetch, jobs_finish
from shared.rq_presence import WorkerPresence
from worker.apply import ledger_apply, operation_refuse
from worker.claim import ClaimedIds, processing_clear
from worker.leases import Leases, LeasesLost
from worker.transfers import follow_ups, legs_enqueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    """Claimed jobs, parsed: the operations to apply and the poison to fail."""

    claim: ClaimedIds
    started_at: datetime
    operations: list[tuple[Any, OperationRequest]]
    """(RQ job, its operation), in claim order."""
    poison: list[Failed]

    @property
    def size(self) -> int:
        return len(self.operations) + len(self.poison)


def job_request(job: Any) -> OperationRequest:
    """The operation a job carries, or ``MalformedMessage`` if it is not one of ours."""
    try:
        func_name, args, kwargs = job_call(job)
        if func_name != OPERATION_JOB or len(args) != 1 or kwargs:
            raise MalformedMessage(f"not an operation job: {func_name}")
        return OperationRequest.from_wire(args[0])
    except MalformedMessage:
        raise
    except Exception as exc:  # rq raises assorted errors for undecodable job data
        raise MalformedMessage(f"undecodable job: {exc!r}") from exc


def batch_fetch(connection: redis.Redis, presence: WorkerPresence, claim: ClaimedIds) -> Batch:
    """The claimed jobs that still exist, parsed, marking the worker busy, in one round trip."""
    with connection.pipeline() as pipe:
        restore = jobs_fetch(pipe, connection, claim.job_ids)
        presence.state(pipe, busy=True)
        replies = pipe.execute()[: len(claim.job_ids)]
    operations: list[tuple[Any, OperationRequest]] = []
    poison: list[Failed] = []
    for job in restore(replies):
        try:
            operations.append((job, job_request(job)))
        except MalformedMessage as exc:
            poison.append(Failed(job, str(exc)))
    return Batch(claim, datetime.now(UTC), operations, poison)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying a batch decided, and what must follow its commit."""

    finished: list[Finished]
    failed: list[Failed]
    legs: list[OperationRequest] = field(default_factory=list)
    """Transfer legs to enqueue on their shards (``worker.transfers.follow_ups``)."""
    replies: list[Reply] = field(default_factory=list)
    """Every answer, to the inbox of the web process waiting for it: the jobs' own, and those of
    legs decided with their debit (``worker.ledger_batch.Applied``)."""


def batch_apply(leases: Leases, batch: Batch) -> Outcome:
    """Apply the batch's operations; raises ``LeasesLost`` (nothing applied) on a condition of
    the database."""
    requests = [request for _, request in batch.operations]
    outcomes, inline_legs = _outcomes(leases, requests)
    finished: list[Finished] = []
    failed = list(batch.poison)
    decided: list[tuple[OperationRequest, OperationResult]] = []
    for (job, request), outcome in zip(batch.operations, outcomes, strict=True):
        if isinstance(outcome, OperationResult):
            finished.append(Finished(job, outcome))
            decided.append((request, outcome))
        else:
            failed.append(Failed(job, outcome))
    for poison in failed:
        log.error("job %s from %s failed: %s", poison.job.id, poison.job.origin, poison.reason)
    legs = follow_ups([r for r, _ in decided], [o for _, o in decided], shard_count=leases.shard_count)
    replies = [Reply.to(request, result) for request, result in decided]
    return Outcome(finished, failed, legs, replies + inline_legs)


def _outcomes(leases: Leases, requests: list[OperationRequest]) -> tuple[list[OperationResult | str], list[Reply]]:
    """One result per request, or the reason it can never apply (and could not be recorded);
    and the results of legs applied with them."""
    if not requests:
        return [], []
    try:
        with leases.transaction() as conn:
            applied = ledger_apply(conn, requests, shard_count=leases.shard_count)
        leases.healthy()
        return list[OperationResult | str](applied.results), applied.inline_legs
    except LeasesLost:
        raise
    except Exception as exc:  # neither a database condition nor a lost lease: this batch's own fault
        if len(requests) == 1:
            log.exception("operation %s cannot be applied", requests[0].operation_id)
            return [_refuse(leases, requests[0], f"cannot be applied: {exc.__class__.__name__}: {exc}")], []
    # One bad operation must not hold back the others: isolate it.
    outcomes: list[OperationResult | str] = []
    inline_legs: list[Reply] = []
    for request in requests:
        one, inline = _outcomes(leases, [request])
        outcomes += one
        inline_legs += inline
    return outcomes, inline_legs


def _refuse(leases: Leases, request: OperationRequest, reason: str) -> OperationResult | str:
    """Record an operation that can never apply as rejected, in the ledger, so that its final
    answer never changes (a requeue or a retry finds the row); ``reason`` if even that fails."""
    try:
        with leases.transaction() as conn:
            return operation_refuse(conn, request, rejection=Rejection.UNPROCESSABLE, shard_count=leases.shard_count)
    except LeasesLost:
        raise
    except Exception:
        log.exception("operation %s could not be recorded as rejected", request.operation_id)
        return reason


def batch_finish(
    pipe: redis.client.Pipeline,
    connection: redis.Redis,
    *,
    presence: WorkerPresence,
    batch: Batch,
    outcome: Outcome,
    settings: Settings,
) -> None:
    """Queue on ``pipe`` everything that ends a batch, with the transfer legs that follow it.
    Not a MULTI: every command may safely run twice if the batch is finished again after a
    Redis failure (a leg enqueued twice is applied once, by the ledger)."""
    legs_enqueue(
        pipe,
        outcome.legs,
        shard_count=settings.shard_count,
        result_ttl=settings.result_ttl,
        failure_ttl=settings.failure_ttl,
    )
    jobs_finish(
        pipe,
        worker_name=presence.name,
        started_at=batch.started_at,
        finished=outcome.finished,
        failed=outcome.failed,
        default_result_ttl=settings.result_ttl,
    )
    replies_push(pipe, outcome.replies)
    seconds = (datetime.now(UTC) - batch.started_at).total_seconds()
    presence.count(pipe, finished=len(outcome.finished), failed=len(outcome.failed), seconds=seconds)
    BATCH_SIZES.record(pipe, batch.size)
    BATCH_SECONDS.record(pipe, seconds)
    processing_clear(pipe, batch.claim.shards, worker=presence.name)
    presence.heartbeat(pipe)
