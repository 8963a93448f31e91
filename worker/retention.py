"""Events are kept ``EVENT_RETENTION_DAYS``, then pruned with their webhook deliveries and the
deliveries' attempts, a bounded batch per transaction (``events_prune``), by the shard worker
that holds shard 0's lease (``worker.chores``): one pruner at a time, whatever the fleet."""

from __future__ import annotations

from sqlalchemy import Connection, text

PRUNE_EVERY = 600.0
"""Seconds between prunes (one runs again at once while it finds a full batch)."""

PRUNE_BATCH = 5000
"""Most events (and most deliveries) one prune deletes in one transaction."""

# An attempt names its delivery: both go in one statement (foreign keys are checked at its end).
_DELIVERIES_PRUNE = text(
    "WITH gone AS ("
    " SELECT id FROM webhook_deliveries WHERE event_created < now() - make_interval(days => :days) LIMIT :limit"
    "), attempts AS (DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM gone))"
    " DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM gone)"
)
_EVENTS_PRUNE = text(
    "DELETE FROM events WHERE id IN ("
    " SELECT id FROM events WHERE created < now() - make_interval(days => :days) LIMIT :limit)"
)


def events_prune(conn: Connection, *, days: int, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` events older than ``days`` days, after up to ``limit`` of their
    deliveries; how many events went."""
    params = {"days": days, "limit": limit}
    conn.execute(_DELIVERIES_PRUNE, params)
    return conn.execute(_EVENTS_PRUNE, params).rowcount
