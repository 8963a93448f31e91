from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis
from sqlalchemy import Engine, text

from shared.config import Settings
from shared.messages import OperationRequest
from web.wallets.queueing import operation_send
from worker.shard_worker import ShardWorker


@pytest.fixture(autouse=True)
def _alone(database: Engine) -> None:
    """In-process worker tests decide what runs: no shard worker process of another test (whose
    chores act on the whole database, whatever its Redis) may still be connected."""
    with database.connect() as conn:
        others = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'wallet-worker' AND datname = current_database()"
            )
        ).scalar_one()
    assert others == 0, "a shard worker process of another test is still running"


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
