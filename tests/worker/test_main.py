"""``python -m worker`` as operators run it: named by ``WORKER_NAME``, listed by RQ while it
serves, and gone from the listing as soon as it stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import redis
from rq import Worker

from deploy.processes import ROOT, start_worker, stop, wait_until
from shared.config import Settings
from tests.support.databases import IN_PROCESS_LEASES


def test_workers_named_alike_get_distinct_names_and_leave_the_listing_when_they_stop(
    local_redis: redis.Redis, local_settings: Settings
) -> None:
    env = {"REDIS_URL": local_settings.redis_url, "LEASE_NAMESPACE": str(IN_PROCESS_LEASES), "WORKER_NAME": "pod-7"}
    procs = [start_worker(**env), start_worker(**env)]
    try:
        wait_until(lambda: len(Worker.all(connection=local_redis)) == 2, timeout=30, what="both workers listed")
        names = sorted(worker.name for worker in Worker.all(connection=local_redis))
        for proc in procs:
            assert any(re.fullmatch(rf"wallets-pod-7-{proc.pid}-[0-9a-f]{{6}}", name) for name in names), names
        wait_until(
            lambda: sum(len(w.queue_names()) for w in Worker.all(connection=local_redis)) == local_settings.shard_count,
            timeout=30,
            what="every shard served",
        )
    finally:
        stop(procs[0])
    assert len(Worker.all(connection=local_redis)) == 1  # at once: no ghost of the stopped one
    stop(procs[1])
    assert Worker.all(connection=local_redis) == []


def test_alive_says_whether_a_worker_of_this_host_has_a_heartbeat(
    local_redis: redis.Redis, local_settings: Settings
) -> None:
    env = {"REDIS_URL": local_settings.redis_url, "LEASE_NAMESPACE": str(IN_PROCESS_LEASES), "WORKER_NAME": "pod-8"}

    def alive(name: str) -> int:
        check = [sys.executable, "-m", "worker", "--alive"]
        return subprocess.run(check, env={**os.environ, **env, "WORKER_NAME": name}, cwd=ROOT).returncode

    assert alive("pod-8") == 1  # none yet
    proc = start_worker(**env)
    try:
        wait_until(lambda: alive("pod-8") == 0, timeout=30, what="the worker's heartbeat")
        assert alive("pod-80") == 1  # another host's name that only starts alike
    finally:
        stop(proc)
    assert alive("pod-8") == 1  # it left the membership as it stopped
