"""The alert rules in a real Prometheus (Debian's ``prometheus``) scraping a real stack: none is
active while the stack is healthy (an old poison message included), and each goes pending when
its fault is made: a new poison message, ``rq suspend``, every worker stopped, a queue left to
fill, the web stopped. ``promtool`` checks the rules and the shipped configuration first."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from rq import Queue
from rq.serializers import JSONSerializer
from rq.suspension import resume, suspend

from deploy.processes import ROOT, free_port, stop, wait_until
from shared.messages import OPERATION_JOB
from shared.sharding import queue_name
from tests.support.databases import FreshDatabase, fresh_database
from tests.support.http_client import call, call_json
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.live

MONITORING = ROOT / "deploy" / "monitoring"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TOKEN = "alerts-test-metrics-token"


def test_promtool_accepts_the_rules_and_the_configuration(tmp_path: Path) -> None:
    rules = subprocess.run([PROMTOOL, "check", "rules", str(MONITORING / "alerts.yml")], capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 14 rules found" in rules.stdout
    # The shipped configuration, with its credentials file where promtool can read one.
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (tmp_path / "token").write_text(TOKEN)
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(tmp_path / "token")
    config["rule_files"] = [str(MONITORING / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


class Prometheus:
    """A Prometheus of the test's own, scraping ``target`` every second with the shipped rules."""

    def __init__(self, target: str, workdir: Path) -> None:
        self.port = free_port()
        config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
        config["rule_files"] = [str(MONITORING / "alerts.yml")]
        (workdir / "token").write_text(TOKEN)
        [job] = config["scrape_configs"]
        job["authorization"]["credentials_file"] = str(workdir / "token")
        job["static_configs"] = [{"targets": [target]}]
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def api(self, path: str, **query: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())["data"]

    def value(self, expr: str) -> float | None:
        result = self.api("query", query=expr)["result"]
        return float(result[0]["value"][1]) if result else None

    def active(self) -> dict[str, str]:
        """Each pending or firing alert's name and state."""
        return {alert["labels"]["alertname"]: alert["state"] for alert in self.api("alerts")["alerts"]}

    def stop(self) -> None:
        stop(self.proc)


def _answers(prometheus: Prometheus) -> bool:
    try:
        prometheus.api("status/buildinfo")
        return True
    except OSError:
        return False


def _poison(connection: redis.Redis) -> None:
    """A job no worker can apply (it fails into the failed registry of shard 0's queue)."""
    Queue(queue_name(0), connection=connection, serializer=JSONSerializer).enqueue(OPERATION_JOB, {"v": 1})


@pytest.fixture(scope="module")
def database() -> FreshDatabase:
    """Its own: the suite's database holds other tests' transfers (some set aside on purpose)."""
    return fresh_database("alerts")


@pytest.fixture(scope="module")
def stack(database: FreshDatabase) -> Iterator[Stack]:
    with running_stack(workers=2, DATABASE_URL=database.url, METRICS_TOKEN=TOKEN, REPLY_TIMEOUT="0.2") as stack:
        wait_until(lambda: call(stack.base, "GET", "/readyz")[0] == 200, timeout=30, what="every shard owned")
        yield stack


def _pending_within(prometheus: Prometheus, alerts: set[str], timeout: float) -> None:
    wait_until(lambda: alerts <= set(prometheus.active()), timeout=timeout, what=f"{sorted(alerts)} pending")


def test_no_alert_on_a_healthy_stack_and_each_goes_pending_on_its_fault(stack: Stack, database: FreshDatabase) -> None:
    connection = redis.Redis.from_url(stack.redis.url)
    _poison(connection)  # an old failure, there before the first scrape: it must not page
    wait_until(lambda: call_json(stack.base, "GET", "/readyz")[1]["live_workers"] == 2, timeout=15, what="workers")
    status, wallet = call_json(stack.base, "POST", "/api/v1/wallets", token=database.api_key)
    assert status == 201
    prometheus = Prometheus(f"127.0.0.1:{stack.port}", Path(tempfile.mkdtemp(prefix="wallet-prometheus-")))
    try:
        wait_until(lambda: _answers(prometheus), timeout=30, what="Prometheus")
        wait_until(lambda: prometheus.value('up{job="wallet"}') == 1, timeout=30, what="a successful scrape")
        wait_until(lambda: prometheus.value("wallet_failed_jobs") == 1, timeout=30, what="the old failure scraped")
        # Healthy: nothing active over 10 evaluations (stale pending alerts of the first
        # evaluations, before the first scrape, have resolved by now).
        time.sleep(3)
        for _ in range(10):
            assert prometheus.active() == {}
            time.sleep(1)

        _poison(connection)  # a new one
        _pending_within(prometheus, {"WalletPoisonMessages"}, timeout=30)

        suspend(connection)
        _pending_within(prometheus, {"WalletWorkersSuspended"}, timeout=15)
        assert call_json(stack.base, "GET", "/readyz")[1]["suspended"] is True
        resume(connection)

        stack.stop_workers()
        _pending_within(prometheus, {"WalletNoLiveWorkers", "WalletShardUnowned"}, timeout=30)

        deposit = {"operationType": "DEPOSIT", "amount": "1.00"}
        status, _ = call(
            stack.base, "POST", f"/api/v1/wallets/{wallet['id']}/operation", deposit, token=database.api_key
        )
        assert status == 202  # queued; nobody applies it
        _pending_within(prometheus, {"WalletQueueLagging"}, timeout=40)

        assert stack.web is not None
        stop(stack.web)
        _pending_within(prometheus, {"WalletTargetDown", "WalletQueueSeriesAbsent"}, timeout=30)
    finally:
        prometheus.stop()
