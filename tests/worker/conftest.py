from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis
from sqlalchemy import Engine, text

from shared.config import Settings
from shared.messages import OperationRequest
from tests.support.processes import wait_until
from web.wallets.money.queueing import operation_send
from worker.shard_worker import ShardWorker


def _worker_processes(database: Engine) -> int:
    with database.connect() as conn:
        count: int = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'wallet-worker' AND datname = current_database()"
            )
        ).scalar_one()
    return count


@pytest.fixture(autouse=True)
def _alone(database: Engine) -> None:
    """In-process worker tests decide what runs: no shard worker process of another test (whose
    chores act on the whole database, whatever its Redis) may still be connected. A process
    just stopped may take a moment to leave pg_stat_activity."""
    wait_until(lambda: _worker_processes(database) == 0, timeout=10, what="no shard worker process connected")


@pytest.fixture
def enqueue(local_redis: redis.Redis, local_settings: Settings) -> Callable[[OperationRequest], None]:
    """Enqueue exactly as the web node does, on the in-process Redis database."""

    def push(request: OperationRequest) -> None:
        operation_send(connection=local_redis, settings=local_settings, request=request, wait=0)

    return push


@pytest.fixture
def make_worker(db: Engine, local_redis: redis.Redis, local_settings: Settings) -> Callable[..., ShardWorker]:
    def build(shards: list[int] | None = None, **overrides: object) -> ShardWorker:
        settings = dataclasses.replace(local_settings, **overrides)  # type: ignore[arg-type]
        return ShardWorker(engine=db, settings=settings, connection=local_redis, shards=shards)

    return build
