"""Shard leases on real PostgreSQL advisory locks: one writer per shard, fair shares, takeover."""

from __future__ import annotations

import dataclasses

import pytest
import redis
from sqlalchemy import Engine, text

from shared import keys
from shared.config import Settings
from shared.messages import OperationRequest
from shared.operations import OperationType
from tests.support.databases import IN_PROCESS_LEASES
from tests.support.factories import operation, wallet_row
from tests.support.workers import Rig
from web.wallets.money.queueing import operation_send
from worker.leases import Leases, candidate_order, rebalance_plan


@pytest.mark.parametrize(
    ("owned", "live", "shards", "release", "wanted"),
    [
        (set(), 1, 16, [], 16),
        (set(range(16)), 2, 16, [15, 14, 13, 12, 11, 10, 9, 8], 0),
        (set(range(8)), 2, 16, [], 0),
        ({0, 1, 2, 3}, 3, 16, [], 2),
        (set(range(6)), 3, 16, [], 0),
        (set(), 5, 4, [], 1),
        ({0}, 5, 4, [], 0),
    ],
)
def test_rebalance_plan(owned: set[int], live: int, shards: int, release: list[int], wanted: int) -> None:
    plan = rebalance_plan(owned, live, shards)
    assert plan.release == release
    assert plan.wanted == wanted


def test_candidate_order_covers_every_shard_once() -> None:
    orders = {tuple(candidate_order(f"worker-{i}", 16)) for i in range(20)}
    assert all(sorted(order) == list(range(16)) for order in orders)
    assert len({order[0] for order in orders}) > 1


def lock_holders(engine: Engine) -> dict[int, int]:
    """Shard -> number of sessions holding its lease lock."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT objid, count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls"
                " AND granted GROUP BY objid"
            ),
            {"cls": IN_PROCESS_LEASES},
        )
        return {int(shard): int(n) for shard, n in rows}


def test_two_workers_never_lease_the_same_shard(rig: Rig) -> None:
    first, second = rig.worker([0, 1, 2, 3], shard_count=4), rig.worker([0, 1, 2, 3], shard_count=4)
    try:
        first.rebalance()
        assert sorted(first.owned) == [0, 1, 2, 3]
        second.rebalance()  # two live workers now: fair share 2, but the first still holds all four
        assert second.owned == []
        first.rebalance()  # sheds its surplus
        assert len(first.owned) == 2
        second.rebalance()
        assert set(first.owned).isdisjoint(second.owned)
        assert sorted([*first.owned, *second.owned]) == [0, 1, 2, 3]
        assert lock_holders(rig.db) == {0: 1, 1: 1, 2: 1, 3: 1}
    finally:
        first.leases.drop("test over")
        second.leases.drop("test over")


def send_to_single_shard(connection: redis.Redis, settings: Settings, request: OperationRequest) -> None:
    operation_send(
        connection=connection, settings=dataclasses.replace(settings, shard_count=1), request=request, wait=0
    )


def test_standby_takes_over_when_the_owner_dies(rig: Rig) -> None:
    owner, standby = rig.worker([0], shard_count=1), rig.worker([0], shard_count=1)
    try:
        owner.rebalance()
        standby.rebalance()
        assert list(owner.owned) == [0]
        assert standby.owned == []
        rig.kill(owner)
        rig.redis.zrem(keys.WORKERS_KEY, owner.name)  # its heartbeat has expired
        standby.rebalance()
        assert list(standby.owned) == [0]
        wallet = wallet_row(rig.db)
        request = operation(wallet, OperationType.DEPOSIT, "1.00")
        send_to_single_shard(rig.redis, rig.settings, request)
        standby.work(burst=True)
        assert len(rig.replies(request)) == 1
    finally:
        owner.leases.drop("test over")
        standby.leases.drop("test over")


def test_a_worker_without_its_connection_writes_nothing(rig: Rig) -> None:
    worker = rig.worker([0], shard_count=1)
    worker.rebalance()
    assert worker.leases.connection is not None
    pid = worker.leases.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    worker.leases.connection.commit()
    with rig.db.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wallet = wallet_row(rig.db)
    request = operation(wallet, OperationType.DEPOSIT, "1.00")
    send_to_single_shard(rig.redis, rig.settings, request)
    worker.work(burst=True)  # the batch fails on the dead connection, the lease is re-taken, the batch redone
    assert len(rig.replies(request)) == 1
    assert lock_holders(rig.db) == {}


def test_a_stopping_worker_frees_its_shards_before_it_closes(rig: Rig) -> None:
    # A closed connection's backend frees its locks a moment after the close returns (about 1
    # close in 100 here): a graceful stop unlocks them first, so they are free when it returns.
    held = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls AND granted")
    with rig.db.connect() as watcher:
        for _ in range(200):
            leases = Leases(rig.db, name="stopping", namespace=IN_PROCESS_LEASES, shard_count=2, candidates=[0, 1])
            leases.rebalance(live_workers=1)
            assert leases.owned == {0, 1}
            leases.release("stopping")
            assert watcher.execute(held, {"cls": IN_PROCESS_LEASES}).scalar_one() == 0
            watcher.commit()
