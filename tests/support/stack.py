"""A stack of the service's real processes for fault tests: a redis-server of the test's own
(restartable, frozen, with or without persistence), shard workers and gunicorn; and an HTTP
client that behaves as a careful one does."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import redis
from sqlalchemy import Engine, text

from deploy.processes import free_port, start_gunicorn, start_worker, stop, wait_until
from shared.config import get_settings
from shared.connections import engine_from_settings
from tests.support.http_client import call
from web.wallets.error_codes import IN_FLIGHT, error_code


class RedisServer:
    """A redis-server of the test's own, with an append-only file, restartable in place;
    ``options`` are added to its command line (``--replicaof`` ...)."""

    def __init__(self, *, persistent: bool = True, options: Sequence[str] = ()) -> None:
        self.persistent = persistent
        self.options = list(options)
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wallet-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always", "--dir", self.dir),
                *self.options,
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

    def kill(self) -> None:
        """``kill -9``: as the loss of its host, nothing flushed or said goodbye."""
        assert self.proc is not None
        self.proc.kill()
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
def running_stack(
    *, workers: int = 2, persistent: bool = True, server: RedisServer | None = None, **env: str
) -> Iterator[Stack]:
    """Its own Redis (or ``server``, running: the caller's to stop), ``workers`` shard workers and
    gunicorn, all stopped afterwards. ``env`` may name the Redis otherwise (``REDIS_SENTINELS``)."""
    own = server is None
    if server is None:
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
        if own:
            server.stop()


def keyed_post(base: str, path: str, body: dict[str, str], key: str, method: str = "POST") -> tuple[int, bytes]:
    """Post (or ``method``) with an Idempotency-Key, retrying as a careful client does on
    outages and while the key's first request is in flight (same key); any other 409 (a frozen
    wallet, a hold already captured) is final."""
    deadline = time.monotonic() + 60
    while True:
        status, content = call(base, method, path, body, key)
        retry = status in (0, 503) or (status == 409 and _in_flight(content))
        if not retry or time.monotonic() > deadline:
            return status, content
        time.sleep(0.05)


def _in_flight(content: bytes) -> bool:
    return bool(json.loads(content).get("code") == error_code(IN_FLIGHT, 409))


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


Keyed = tuple[str, dict[str, str], str]
"""A keyed request of a load plan: (path, body, Idempotency-Key)."""


def wallets_create(base: str, count: int, *, funds: str | None = None, currency: str | None = None) -> list[str]:
    """``count`` new wallets of the suite's tenant, through the API at ``base`` (in ``currency``,
    else the default), each funded with one keyed deposit of ``funds`` if given. The one way the
    tests make wallets over HTTP."""
    ids = []
    for _ in range(count):
        status, content = call(base, "POST", "/api/v1/wallets", None if currency is None else {"currency": currency})
        assert status == 201, content
        wallet = json.loads(content)["id"]
        if funds is not None:
            deposit = {"operationType": "DEPOSIT", "amount": funds}
            assert keyed_post(base, f"/api/v1/wallets/{wallet}/operation", deposit, f"fund-{wallet}")[0] == 200
        ids.append(wallet)
    return ids


def keyed_load(
    base: str, plan: Sequence[Keyed], fault: Callable[[], None] | None, *, clients: int, decided: Collection[int]
) -> list[tuple[int, bytes]]:
    """Send ``plan`` from ``clients`` at once, inject ``fault`` a third of the way in, and let every
    request settle; then replay every key. Asserts that every final answer is one of ``decided``,
    that every replay repeats it byte for byte, and that a first answer already decided is the
    final one. The final answers, in plan order."""
    done = [0]
    trigger = threading.Event()

    def send(item: Keyed) -> tuple[int, bytes]:
        answer = keyed_post(base, *item)
        done[0] += 1
        if done[0] == len(plan) // 3:
            trigger.set()
        return answer

    faulter = None
    if fault is not None:

        def inject() -> None:
            trigger.wait(120)
            fault()

        faulter = threading.Thread(target=inject)
        faulter.start()
    with ThreadPoolExecutor(clients) as pool:
        firsts = list(pool.map(send, plan))
    if faulter is not None:
        faulter.join()
        assert trigger.is_set(), "the fault was never injected"
    with ThreadPoolExecutor(clients) as pool:
        finals = list(pool.map(lambda item, first: settle_post(base, item[0], item[1], item[2], first), plan, firsts))
    unsettled = [(item, answer) for item, answer in zip(plan, finals, strict=True) if answer[0] not in decided]
    assert not unsettled, unsettled[:3]
    with ThreadPoolExecutor(clients) as pool:
        replays = list(pool.map(lambda item: keyed_post(base, *item), plan))
    assert replays == finals
    for first, final in zip(firsts, finals, strict=True):
        if first[0] in decided:
            assert first == final
    return finals


def one_ledger_row_per_key(engine: Engine, keys: Sequence[str]) -> None:
    """Assert that each Idempotency-Key names exactly one ledger row (a transfer's: its debit)."""
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT idempotency_key, count(*) FROM wallet_operations"
                    " WHERE idempotency_key = ANY(:keys) GROUP BY idempotency_key"
                ),
                {"keys": list(keys)},
            ).all()
        )
    assert len(counts) == len(keys)
    assert set(counts.values()) == {1}


@contextmanager
def armed_stack(point: str, **env: str) -> Iterator[tuple[Stack, Callable[[], None]]]:
    """A stack with one plain worker and one armed at the fault ``point`` (it kills itself with
    SIGKILL when it gets there), and the fault to inject: wait for the armed worker to have died
    so, then start its replacement."""
    with running_stack(workers=1, **env) as stack:
        armed = start_worker(**stack.env, FAULT_POINT=point)
        stack.workers.append(armed)
        # The armed worker holds its share of the shards before any load: else a light load can
        # end before it leases one, and it never reaches its point.
        engine = engine_from_settings(get_settings(), pool_size=1, application_name="wallet-tests")
        namespace = stack.env["LEASE_NAMESPACE"]
        try:
            wait_until(
                lambda: len(set(lease_holders(engine, namespace).values())) == 2,
                timeout=30,
                what="both workers holding leases",
            )
        finally:
            engine.dispose()

        def replace_armed() -> None:
            wait_until(lambda: armed.poll() is not None, timeout=60, what="the armed worker's fault point")
            assert armed.returncode == -signal.SIGKILL
            stack.add_worker()

        yield stack, replace_armed


def lease_holders(engine: Engine, namespace: str) -> dict[int, int]:
    """Shard -> PostgreSQL backend pid of the session holding its lease, for ``namespace``."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT objid, pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :ns"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": int(namespace)},
        ).all()
    return {int(shard): int(pid) for shard, pid in rows}


def pending_transfers(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM transfers WHERE state = 'pending'")).scalar_one())


def ledger_count(engine: Engine, wallets: Sequence[str]) -> int:
    """Ledger rows of ``wallets``, whatever their status."""
    with engine.connect() as conn:
        query = text("SELECT count(*) FROM wallet_operations WHERE wallet_id = ANY(CAST(:ids AS uuid[]))")
        return int(conn.execute(query, {"ids": list(wallets)}).scalar_one())


def status_of(stack: Stack, operation_id: str) -> str:
    """The status its URL answers for an operation (never a 404)."""
    status, content = call(stack.base, "GET", f"/api/v1/operations/{operation_id}")
    assert status == 200, (operation_id, status, content)
    return str(json.loads(content)["status"])


PROBE_DEPOSIT = {"operationType": "DEPOSIT", "amount": "1.00"}
"""The unkeyed deposit whose answers ``answers_true`` checks."""


def answers_true(stack: Stack, engine: Engine, wallets: Sequence[str], answers: Sequence[tuple[int, bytes]]) -> None:
    """For unkeyed ``PROBE_DEPOSIT``s on ``wallets`` (their only rows): every 200 and 202 is in
    the ledger once (a 202 once settled), and nothing else is: a 503 applied nothing."""
    assert {status for status, _ in answers} <= {200, 202, 503}, answers
    pending = [json.loads(body)["operation_id"] for status, body in answers if status == 202]
    for operation_id in pending:

        def applied(operation_id: str = operation_id) -> bool:
            return status_of(stack, operation_id) == "applied"

        wait_until(applied, timeout=40, what=f"{operation_id} applied")
    accepted = sum(1 for status, _ in answers if status in (200, 202))
    assert ledger_count(engine, wallets) == accepted
    total = Decimal(0)
    for wallet in wallets:
        _, content = call(stack.base, "GET", f"/api/v1/wallets/{wallet}")
        total += Decimal(json.loads(content)["balance"])
    assert total == accepted * Decimal(PROBE_DEPOSIT["amount"])
