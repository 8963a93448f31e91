from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis
from sqlalchemy import Engine

from shared.config import Settings
from shared.messages import OperationRequest
from web.wallets.queueing import operation_send
from worker.shard_worker import ShardWorker


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
