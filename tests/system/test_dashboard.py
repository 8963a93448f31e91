"""rq-dashboard as ``make run`` and compose run it (``deploy/dashboard.py``): read only, and
a job that expired while a registry listed it is a 404, not a 500."""

from __future__ import annotations

import base64
import os
import runpy
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from deploy.processes import ROOT, free_port, wait_until
from shared import keys
from shared.config import Settings
from shared.sharding import queue_name

DASHBOARD: dict[str, Any] = runpy.run_path(str(ROOT / "deploy" / "dashboard.py"), run_name="dashboard")
dashboard_app: Callable[..., Any] = DASHBOARD["dashboard_app"]


@pytest.fixture
def client(local_redis: redis.Redis, local_settings: Settings) -> FlaskClient:
    return dashboard_app(local_settings).test_client()


def test_a_job_listed_after_it_expired_is_a_404_not_a_500(client: FlaskClient, local_redis: redis.Redis) -> None:
    job_id = str(uuid.uuid4())
    FinishedJobRegistry(queue_name(0), connection=local_redis).connection.zadd(
        FinishedJobRegistry.key_template.format(queue_name(0)), {job_id: 9e9}
    )
    for path in (f"/0/view/job/{job_id}", f"/0/data/job/{job_id}.json"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"expired" in response.data


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/requeue/{queue}"),
        ("POST", "/requeue/{queue}"),
        ("POST", "/job/{job}/requeue"),
        ("POST", "/job/{job}/delete"),
        ("POST", "/queue/{queue}/failed/empty"),
        ("POST", "/queue/{queue}/compact"),
        ("DELETE", "/0/view/queues"),
    ],
)
def test_nothing_changes_state_through_the_dashboard(
    method: str, path: str, client: FlaskClient, local_redis: redis.Redis
) -> None:
    failed = FailedJobRegistry(queue_name(0), connection=local_redis)
    job_id = str(uuid.uuid4())
    local_redis.zadd(failed.key, {job_id: 9e9})
    local_redis.hset(keys.job_key(job_id), mapping={"status": "failed", "origin": queue_name(0)})
    response = client.open(path.format(queue=queue_name(0), job=job_id), method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert local_redis.zrange(failed.key, 0, -1) == [job_id.encode()]
    assert local_redis.llen(keys.queue_key(0)) == 0


def test_the_pages_an_operator_reads_answer(client: FlaskClient) -> None:
    for path in ("/", "/0/view/workers", "/0/view/jobs", "/0/data/queues.json", "/0/data/workers.json"):
        assert client.get(path).status_code == 200, path


def test_basic_auth_when_a_password_is_set(local_settings: Settings) -> None:
    client = dashboard_app(local_settings, username="ops", password="a-long-dashboard-password").test_client()
    assert client.get("/").status_code == 401
    good = base64.b64encode(b"ops:a-long-dashboard-password").decode()
    assert client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200


def test_the_dashboard_process_is_served_by_gunicorn_checks_its_health_and_stops_quickly(
    local_settings: Settings,
) -> None:
    port = free_port()
    credentials = {"RQ_DASHBOARD_USERNAME": "ops", "RQ_DASHBOARD_PASSWORD": "a-dashboard-password"}
    env = {**os.environ, "REDIS_URL": local_settings.redis_url, **credentials}
    dashboard = [sys.executable, "deploy/dashboard.py", "--bind", "127.0.0.1", "--port", str(port)]

    def check(**overrides: str) -> int:
        return subprocess.run([*dashboard, "--check"], cwd=ROOT, env={**env, **overrides}).returncode

    assert check() == 1  # nothing serves yet
    proc = subprocess.Popen(dashboard, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: check() == 0, timeout=30, what="the dashboard")
        assert check(RQ_DASHBOARD_PASSWORD="wrong") == 1
        request = urllib.request.Request(f"http://127.0.0.1:{port}/")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        refused.value.close()
        assert (refused.value.code, refused.value.headers["Server"]) == (401, "gunicorn")
        stopped = time.monotonic()
        proc.terminate()
        _, errors = proc.communicate(timeout=10)
        assert time.monotonic() - stopped < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Listening at: http://127.0.0.1:" in errors
    assert "development server" not in errors
