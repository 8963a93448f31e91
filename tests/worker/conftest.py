from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text

from deploy.processes import wait_until
from shared.config import Settings
from tests.support.workers import Answers, Rig


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
def rig(db: Engine, local_redis: redis.Redis, local_settings: Settings) -> Iterator[Rig]:
    answers = Answers(local_redis)
    yield Rig(db=db, redis=local_redis, settings=local_settings, answers=answers)
    answers.close()
