"""Starting the service's real processes (shard worker, gunicorn) on this machine: for the
benchmark and the tests (the supervisor of ``make run`` is ``deploy/supervise.py``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from shared import keys

ROOT = Path(__file__).resolve().parents[1]
"""The checkout's root (the benchmark and every test find the repository's files from here)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def shard_queues_drained(connection: redis.Redis) -> bool:
    """No job waits in a shard queue of ``connection`` and no worker holds a claimed one (an RQ
    ``:intermediate`` list, which matches the queues' pattern, does not count)."""
    queues: Any = connection.keys(keys.SHARD_QUEUES_PATTERN)
    processing: Any = connection.keys(keys.PROCESSING_PATTERN)
    lengths: list[Any] = [connection.llen(k) for k in queues if not k.endswith(b":intermediate")]
    return sum(int(n) for n in lengths) == 0 and not processing


def start(args: list[str], **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env})


def start_worker(*extra: str, **env: str) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "worker", "--log-level", "WARNING", *extra], **env)


def start_webhook_worker(**env: str) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "worker.webhooks", "--log-level", "WARNING"], **env)


def start_gunicorn(port: int, **env: str) -> subprocess.Popen[bytes]:
    """The service's gunicorn on ``port``, with its own configuration, once ``/healthz`` answers."""
    return start_wsgi(port, "web.wsgi", ("-c", "deploy/gunicorn.conf.py"), **env)


def start_wsgi(port: int, app: str, options: tuple[str, ...], **env: str) -> subprocess.Popen[bytes]:
    """gunicorn serving ``app`` with ``options`` on ``port``, once its ``/healthz`` answers."""
    proc = start([sys.executable, "-m", "gunicorn", *options, app], PORT=str(port), LOG_LEVEL="warning", **env)
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30, what="gunicorn /healthz")
    return proc


def answers(url: str) -> bool:
    """Whether a GET of ``url`` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
