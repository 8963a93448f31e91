"""The shard worker's periodic chores (``CHORES``), each a plain function of the worker on its own
clock, run between batches by ``ShardWorker.chores``:

- settle operations answered 202 whose jobs Redis no longer holds (``worker.pending``);
- redo the next leg of transfers a crash left pending (``worker.transfers``);
- expire holds past their ``expires_at`` (``worker.holds``);
- prune events past their retention (``worker.retention``);
- share the shards among live workers, requeueing what dead ones left claimed (``worker.leases``);
- RQ's registry cleanup, and expired jobs out of the finished registries (so dashboards count
  what they can list);
- follow ``rq suspend``.

Each one that touches PostgreSQL works on the leased shards only, and gives the leases up
(``LeasesLost``) on a condition of the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from shared.outcomes import OperationStatus, Rejection
from shared.rq_contract import finished_trim
from worker.apply import ledger_apply
from worker.holds import SWEEP_BATCH as HOLDS_SWEEP_BATCH
from worker.holds import holds_due
from worker.leases import REBALANCE_EVERY, LeasesLost
from worker.pending import (
    PENDING_GRACE,
    SETTLE_BATCH,
    SETTLE_EVERY,
    jobs_gone,
    pending_due,
    pending_mark_settled,
    unsettled_sort,
)
from worker.retention import PRUNE_BATCH, PRUNE_EVERY, events_prune
from worker.transfers import (
    SWEEP_BATCH,
    SWEEP_EVERY,
    TRANSFER_GRACE,
    legs_enqueue,
    refunds_refused,
    transfers_due,
    transfers_set_aside,
)

if TYPE_CHECKING:
    from worker.shard_worker import ShardWorker

log = logging.getLogger("worker.shard_worker")  # the chores log as the shard worker did before they had a module

REGISTRY_CLEANUP_EVERY = 60.0
"""Seconds between RQ's registry cleanups."""

FINISHED_TRIM_EVERY = 1.0
"""Seconds between drops of expired jobs from the leased queues' finished registries."""

SUSPENSION_CHECK_EVERY = 1.0
"""Seconds between checks of RQ's suspension flag (``rq suspend``)."""

HOLDS_EXPIRE_EVERY = 2.0
"""Seconds between looks for the leased shards' holds past their expiry."""

PRUNER_SHARD = 0
"""The worker holding this shard's lease prunes old events (one pruner at a time)."""


def pending_settle(worker: ShardWorker) -> int:
    """Settle the due pending records of the leased shards (``worker.pending``); how many."""
    if worker.leases.connection is None or not worker.leases.owned:
        return 0
    try:
        with worker.leases.transaction() as conn:
            due = pending_due(conn, worker.owned, grace=PENDING_GRACE, limit=SETTLE_BATCH)
        if not due:
            return 0
        unsettled = worker.retry_redis(partial(unsettled_sort, worker.connection, due))
        settled = [*unsettled.gone, *unsettled.refused]
        if not settled:
            return 0
        with worker.leases.transaction() as conn:
            refusals = {request.operation_id: Rejection.RATE_LIMITED for request in unsettled.refused}
            ledger_apply(conn, settled, shard_count=worker.settings.shard_count, refusals=refusals)
            pending_mark_settled(conn, [request.operation_id for request in settled])
    except LeasesLost:
        worker.leases_lost()
        return 0
    except SQLAlchemyError:
        log.exception("could not settle pending operations")
        return 0
    log.info(
        "settled %d operations answered 202 whose jobs Redis no longer holds (%d refused by a rate limit)",
        len(settled),
        len(unsettled.refused),
    )
    return len(settled)


def transfers_sweep(worker: ShardWorker) -> int:
    """Redo the next leg of the leased shards' transfers pending for too long
    (``worker.transfers``): enqueue a credit whose job Redis no longer holds, apply a
    refund. How many legs it redid."""
    if worker.leases.connection is None or not worker.leases.owned:
        return 0
    settings = worker.settings
    refunded = 0
    try:
        with worker.leases.transaction() as conn:
            undone = transfers_due(conn, worker.owned, grace=TRANSFER_GRACE, limit=SWEEP_BATCH)
            transfers_set_aside(conn, undone.stalled)
        if undone.refunds:
            with worker.leases.transaction() as conn:
                results = ledger_apply(conn, undone.refunds, shard_count=settings.shard_count).results
                refunded = sum(r.status is OperationStatus.APPLIED for r in results)
                transfers_set_aside(conn, refunds_refused(undone.refunds, results))
        lost = worker.retry_redis(partial(jobs_gone, worker.connection, undone.credits)) if undone.credits else []
    except LeasesLost:
        worker.leases_lost()
        return 0
    except SQLAlchemyError:
        log.exception("could not sweep pending transfers")
        return 0

    def enqueue() -> None:
        with worker.connection.pipeline(transaction=False) as pipe:
            legs_enqueue(
                pipe,
                lost,
                shard_count=settings.shard_count,
                result_ttl=settings.result_ttl,
                failure_ttl=settings.failure_ttl,
            )
            pipe.execute()

    if lost:
        worker.retry_redis(enqueue)
    redone = len(lost) + refunded
    if redone:
        log.warning("transfers: enqueued %d lost credits again, applied %d refunds", len(lost), refunded)
    return redone


def holds_expire(worker: ShardWorker) -> int:
    """Release the leased shards' active holds past their ``expires_at`` (``worker.holds``);
    how many."""
    if worker.leases.connection is None or not worker.leases.owned:
        return 0
    try:
        with worker.leases.transaction() as conn:
            due = holds_due(conn, worker.owned, limit=HOLDS_SWEEP_BATCH)
            if due:
                ledger_apply(conn, due, shard_count=worker.settings.shard_count)
    except LeasesLost:
        worker.leases_lost()
        return 0
    except SQLAlchemyError:
        log.exception("could not expire holds")
        return 0
    if due:
        log.info("expired %d holds", len(due))
    if len(due) == HOLDS_SWEEP_BATCH:  # more are due: the next chores (after a batch) go on
        worker.due_now("holds")
    return len(due)


def events_expire(worker: ShardWorker) -> int:
    """Prune events past ``EVENT_RETENTION_DAYS`` (``worker.retention``), if this worker holds
    shard 0's lease; how many went."""
    if worker.leases.connection is None or PRUNER_SHARD not in worker.owned:
        return 0
    try:
        with worker.leases.transaction() as conn:
            pruned = events_prune(conn, days=worker.settings.event_retention_days)
    except LeasesLost:
        worker.leases_lost()
        return 0
    except SQLAlchemyError:
        log.exception("could not prune events")
        return 0
    if pruned:
        log.info("pruned %d events older than %d days", pruned, worker.settings.event_retention_days)
    if pruned == PRUNE_BATCH:
        worker.due_now("events")
    return pruned


def shards_rebalance(worker: ShardWorker) -> None:
    worker.rebalance()


def registries_clean(worker: ShardWorker) -> None:
    worker.retry_redis(worker.presence.clean_registries)


def finished_registries_trim(worker: ShardWorker) -> None:
    worker.retry_redis(partial(finished_trim, worker.connection, [shard.name for shard in worker.shard_queues]))


def suspension_follow(worker: ShardWorker) -> None:
    suspended = worker.retry_redis(worker.presence.suspended)
    if suspended != worker.suspended:
        log.info("worker %s: %s", worker.name, "suspended (rq resume ends it)" if suspended else "resumed")
    worker.suspended = suspended


@dataclass(frozen=True, slots=True)
class Chore:
    name: str
    """Its clock's name."""
    every: float
    """Seconds between two runs."""
    run: Callable[[ShardWorker], object]


CHORES = (
    # Settling before rebalancing: a lease it finds lost is taken again at once.
    Chore("pending", SETTLE_EVERY, pending_settle),
    Chore("transfers", SWEEP_EVERY, transfers_sweep),
    Chore("holds", HOLDS_EXPIRE_EVERY, holds_expire),
    Chore("events", PRUNE_EVERY, events_expire),
    Chore("rebalance", REBALANCE_EVERY, shards_rebalance),
    Chore("registries", REGISTRY_CLEANUP_EVERY, registries_clean),
    Chore("finished", FINISHED_TRIM_EVERY, finished_registries_trim),
    Chore("suspension", SUSPENSION_CHECK_EVERY, suspension_follow),
)
"""Every periodic chore, in the order a turn runs those due."""
