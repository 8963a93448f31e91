"""A stack of the service's real processes for fault tests: a redis-server of the test's own
(restartable, frozen, with or without persistence), shard workers and gunicorn; and an HTTP
client that behaves as a careful one does."""

from __future__ import annotations

import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from tests.http_client import call
from tests.processes import free_port, start_gunicorn, start_worker, stop, wait_until


class RedisServer:
    """A redis-server of the test's own, with an append-only file, restartable in place."""

    def __init__(self, *, persistent: bool = True) -> None:
        self.persistent = persistent
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wallet-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always", "--dir", self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot stop
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def freeze(self, seconds: float) -> None:
        """Stop the server's process for ``seconds`` (it accepts connections, answers nothing)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            self.proc.send_signal(signal.SIGCONT)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@dataclass
class Stack:
    redis: RedisServer
    port: int
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    web: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_worker(self) -> subprocess.Popen[bytes]:
        proc = start_worker(**self.env)
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                stop(proc)
        self.workers.clear()


@contextmanager
def running_stack(*, workers: int = 2, persistent: bool = True, **env: str) -> Iterator[Stack]:
    """Its own Redis, ``workers`` shard workers and gunicorn, all stopped afterwards."""
    server = RedisServer(persistent=persistent)
    server.start()
    # Its own lease namespace: no other worker of the suite can hold its shards' locks.
    namespace = str(random.randrange(1 << 20, 1 << 30))
    stack = Stack(redis=server, port=free_port(), env={"REDIS_URL": server.url, "LEASE_NAMESPACE": namespace, **env})
    try:
        for _ in range(workers):
            stack.add_worker()
        stack.web = start_gunicorn(stack.port, **stack.env)
        yield stack
    finally:
        for proc in [*stack.workers, *([stack.web] if stack.web else [])]:
            if proc.poll() is None:
                stop(proc)
        server.stop()


def keyed_post(base: str, path: str, body: dict[str, str], key: str) -> tuple[int, bytes]:
    """Post with an Idempotency-Key, retrying as a careful client does on outages (same key)."""
    deadline = time.monotonic() + 60
    while True:
        status, content = call(base, "POST", path, body, key)
        if status not in (0, 409, 503) or time.monotonic() > deadline:
            return status, content
        time.sleep(0.05)


def keyed_call(base: str, wallet: str, body: dict[str, str], key: str) -> tuple[int, bytes]:
    """``keyed_post`` of an operation of ``wallet``."""
    return keyed_post(base, f"/api/v1/wallets/{wallet}/operation", body, key)


def settle_post(base: str, path: str, body: dict[str, str], key: str, first: tuple[int, bytes]) -> tuple[int, bytes]:
    """The final answer for a key: a 202 is replayed until the request has been decided."""
    answer = first
    deadline = time.monotonic() + 60
    while answer[0] == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = keyed_post(base, path, body, key)
    return answer


def settle(base: str, wallet: str, body: dict[str, str], key: str, first: tuple[int, bytes]) -> tuple[int, bytes]:
    """``settle_post`` of an operation of ``wallet``."""
    return settle_post(base, f"/api/v1/wallets/{wallet}/operation", body, key, first)
