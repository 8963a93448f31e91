"""``make run`` keeps serving when one of its processes dies (``deploy/supervise.py``).

The real configuration under the real supervisord, on a Redis of the test's own: a shard
worker, the webhook worker or the web killed with ``kill -9`` is replaced within 5 s while the
rest keep serving.
"""

from __future__ import annotations

import configparser
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from deploy.processes import ROOT, free_port, wait_until
from tests.support.stack import RedisServer, call

pytestmark = pytest.mark.fault

BIN = Path(sys.executable).parent


class Supervised:
    def __init__(self, conf: Path, port: int) -> None:
        self.conf = conf
        self.base = f"http://127.0.0.1:{port}"

    def pids(self) -> dict[str, int]:
        out = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.conf), "status"], capture_output=True, text=True, check=False
        ).stdout
        return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+RUNNING\s+pid (\d+)", out, re.MULTILINE)}


@pytest.fixture
def supervised(database: Engine, tmp_path: Path) -> Iterator[Supervised]:
    server = RedisServer()
    server.start()
    port = free_port()
    conf = tmp_path / "supervisord.conf"
    written = subprocess.run(
        [
            sys.executable,
            "deploy/supervise.py",
            *("--bin", str(BIN), "--run-dir", str(tmp_path), "--workers", "2"),
            *("--dashboard-port", str(free_port()), "--redis-url", server.url),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    conf.write_bytes(written.stdout)
    env = {
        **os.environ,
        "PORT": str(port),
        "REDIS_URL": server.url,
        "SHARD_COUNT": "4",
        "LOG_LEVEL": "warning",
        "LEASE_NAMESPACE": str(random.randrange(1 << 20, 1 << 30)),
    }
    proc = subprocess.Popen([str(BIN / "supervisord"), "-c", str(conf)], cwd=ROOT, env=env)
    stack = Supervised(conf, port)
    try:
        wait_until(lambda: call(stack.base, "GET", "/healthz")[0] == 200, timeout=30, what="the web")
        wait_until(lambda: len(stack.pids()) == 5, timeout=30, what="every process running")
        yield stack
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        server.stop()


def test_a_killed_process_is_replaced_within_5_s_and_the_rest_keep_serving(supervised: Supervised, db: Engine) -> None:
    _, content = call(supervised.base, "POST", "/api/v1/wallets")
    wallet = json.loads(content)["id"]
    deposit = {"operationType": "DEPOSIT", "amount": "1.00"}
    for victim in ("worker:worker-0", "webhooks", "web"):
        before = supervised.pids()
        os.kill(before[victim], signal.SIGKILL)
        killed_at = time.monotonic()

        def replaced(victim: str = victim, old: int = before[victim]) -> bool:
            return supervised.pids().get(victim, old) != old

        wait_until(replaced, timeout=5, what=f"{victim} replaced")
        assert time.monotonic() - killed_at < 5
        after = supervised.pids()
        assert {name: pid for name, pid in after.items() if name != victim} == {
            name: pid for name, pid in before.items() if name != victim
        }
        wait_until(
            lambda: call(supervised.base, "POST", f"/api/v1/wallets/{wallet}/operation", deposit)[0] == 200,
            timeout=10,
            what="an operation applied",
        )


def _configuration(workers: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "deploy/supervise.py",
            *("--bin", str(BIN), "--run-dir", ".run", "--workers", str(workers)),
            *("--redis-url", "redis://127.0.0.1:6379/0"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_workers_is_a_web_only_node() -> None:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(_configuration(0).stdout)
    assert [s for s in conf.sections() if s.startswith("program:")] == [
        "program:web",
        "program:webhooks",
        "program:dashboard",
    ]
    assert conf["program:webhooks"]["command"].endswith("-m worker.webhooks")
    one = configparser.ConfigParser(interpolation=None)
    one.read_string(_configuration(1).stdout)
    assert one["program:worker"]["command"].endswith("-m worker")
    refused = _configuration(-1)
    assert refused.returncode != 0
    assert "0 or more" in refused.stderr


def test_each_port_has_its_own_run_directory() -> None:
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8123", "WORKERS=0"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--run-dir .run/8123 --workers 0" in dry
    assert "--webhook-workers 1" in dry
    assert "supervisord -c .run/8123/supervisord.conf" in dry
