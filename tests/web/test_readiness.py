"""``/readyz``: ready only while a worker holds every shard's lease and no operation has waited
too long in a shard queue; the same readings in ``/metrics``. Against the web tests' real
shard worker process (it serves every shard of ``settings``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.test import Client
from rq.utils import utcformat
from sqlalchemy import text

from deploy.processes import wait_until
from shared import keys
from shared.config import Settings
from shared.connections import engine_from_settings
from shared.sharding import queue_name
from tests.support.api import Api, scrape
from tests.support.http_client import error_of
from tests.support.patching import patch_views


def ready(client: Client) -> tuple[int, dict[str, object]]:
    """The status and body of /readyz (a 503's ``request_id`` checked against its header, and dropped)."""
    response = client.get("/readyz")
    body: dict[str, object] = response.json()
    if body["status"] == "unavailable":  # an error body: its request_id
        return error_of(response.status_code, body, response.headers)
    return response.status_code, body


def test_ready_while_the_worker_holds_every_shard(settings: Settings) -> None:
    wait_until(lambda: ready(Client())[0] == 200, timeout=15, what="the worker to lease every shard")
    status, body = ready(Client())
    assert (status, body["status"], body["unowned_shards"], body["lagging_shards"]) == (200, "ready", [], [])
    assert body["live_workers"] == 1
    # Which servers this process uses, as its settings name them; no failover seen.
    host, port = settings.database.hosts[0]
    assert body["backends"] == {
        "redis": {"address": "127.0.0.1:6379", "failovers": 0},
        "postgresql": {"address": f"{host}:{port}", "failovers": 0},
    }
    assert Client().head("/readyz").status_code == 200


@pytest.fixture
def extra_shard(settings: Settings, web_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """One shard more than the worker serves: no one leases it, and an operation queued on it
    60 s ago stays there."""
    shard = settings.shard_count
    wider = dataclasses.replace(settings, shard_count=shard + 1)
    patch_views(monkeypatch, "get_settings", lambda: wider)
    monkeypatch.setattr("web.wallets.ops.metrics.get_settings", lambda: wider)
    job_id = "readiness-test-job"
    web_redis.hset(keys.job_key(job_id), "enqueued_at", utcformat(datetime.now(UTC) - timedelta(seconds=60)))
    web_redis.rpush(keys.queue_key(shard), job_id)
    yield shard
    web_redis.delete(keys.queue_key(shard), keys.job_key(job_id))


def test_not_ready_with_a_shard_nobody_leases_and_an_operation_waiting(extra_shard: int, api: Api) -> None:
    status, body = ready(Client())
    assert (status, body["status"]) == (503, "not ready")
    assert body["unowned_shards"] == [extra_shard]
    assert body["lagging_shards"] == [extra_shard]
    assert 59 < float(str(body["max_lag_seconds"])) < 120
    samples = scrape(api)
    assert samples["wallet_shards_unowned"] == [({}, 1.0)]
    lags = dict((labels["shard"], seconds) for labels, seconds in samples["wallet_queue_lag_seconds"])
    assert 59 < lags[f"{extra_shard:02d}"] < 120
    assert samples["wallet_workers_live"] == [({}, 1.0)]


def test_a_lease_held_in_another_database_of_the_server_is_not_this_deployments(
    extra_shard: int, settings: Settings, api: Api
) -> None:
    # Another deployment on the same PostgreSQL server, with the default lease namespace too.
    elsewhere = dataclasses.replace(settings, database_url=settings.database_url.rsplit("/", 1)[0] + "/postgres")
    other = engine_from_settings(elsewhere, pool_size=1, application_name="wallet-tests-other-deployment")
    with other.connect() as conn:
        conn.execute(
            text("SELECT pg_advisory_lock(:ns, :shard)"), {"ns": settings.lease_namespace, "shard": extra_shard}
        )
        status, body = ready(Client())
        assert (status, body["unowned_shards"]) == (503, [extra_shard])
        assert scrape(api)["wallet_shards_unowned"] == [({}, 1.0)]
    other.dispose()


def test_not_ready_when_redis_does_not_answer(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_views(monkeypatch, "get_redis", lambda: redis.Redis(port=1, socket_connect_timeout=0.2))
    status, body = ready(Client())
    assert (status, body) == (
        503,
        {
            "status": "unavailable",
            "error": "Service temporarily unavailable",
            "code": "service_unavailable",
            "checks": {"postgres": "ok", "redis": "error: ConnectionError"},
            "backends": body["backends"],  # shown as in test_ready_while_the_worker_holds_every_shard
        },
    )


def test_the_failed_registries_are_counted(api: Api, settings: Settings, web_redis: redis.Redis) -> None:
    registry = f"rq:failed:{queue_name(0)}"
    before = scrape(api)["wallet_failed_jobs"][0][1]
    web_redis.zadd(registry, {"poison-for-the-metrics-test": 9e9})
    try:
        assert scrape(api)["wallet_failed_jobs"] == [({}, before + 1)]
    finally:
        web_redis.zrem(registry, "poison-for-the-metrics-test")
