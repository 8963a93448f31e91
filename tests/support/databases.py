"""The suite's databases and Redis of its own: fresh databases for the stacks of system tests,
``manage.py`` run as ``make`` runs it, and where in-process workers keep their queues."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import redis
from sqlalchemy import Engine, text

from deploy.processes import ROOT, shard_queues_drained, wait_until
from shared.audit import (
    chain_breaks,
    conservation_gaps,
    currency_mismatches,
    held_mismatches,
    json_nulls,
    ledger_mismatches,
    limit_breaches,
    limit_crossings,
    metadata_mismatches,
    reversal_excesses,
    time_reversals,
    transfer_mismatches,
)
from shared.config import get_settings
from shared.tables import events, wallets, webhook_endpoints
from tests.support.factories import TEST_TENANT

IN_PROCESS_REDIS_URL = os.environ.get("TEST_LOCAL_REDIS_URL", "redis://127.0.0.1:6379/15")
"""Flushed around every in-process worker test: no worker process watches it."""


IN_PROCESS_LEASES = 0x57414D


def manage(*args: str, **env: str) -> str:
    """Run ``manage.py`` (with ``env`` added); its output."""
    return subprocess.run(
        [sys.executable, str(ROOT / "web" / "manage.py"), *args],
        check=True,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    ).stdout


@dataclasses.dataclass(frozen=True)
class FreshDatabase:
    """A database of a test module's own stack: migrated, empty but for one API key."""

    url: str
    api_key: str
    """A read and write key of tenant ``tests`` in it."""


def database_made(name: str) -> str:
    """The URL of ``wallet_<name>_test``, beside the suite's database, dropped and made anew
    (empty: not migrated)."""
    settings = get_settings()
    base = settings.database.name.removesuffix("_test")
    url = settings.database_url.replace(f"/{settings.database.name}", f"/{base}_{name}_test", 1)
    manage("createdb", "--fresh", DATABASE_URL=url)
    return url


def fresh_database(name: str) -> FreshDatabase:
    """``wallet_<name>_test`` (``database_made``), migrated, with a key."""
    url = database_made(name)
    manage("migrate", "--verbosity", "0", DATABASE_URL=url)
    out = manage("apikey", "create", "--tenant", TEST_TENANT, DATABASE_URL=url)
    return FreshDatabase(url, out.strip().splitlines()[-1])


def terminate_backends(db: Engine, application_name: str) -> int:
    """Kill the PostgreSQL connections of ``application_name`` on the test database (as a
    database restart would); how many were killed."""
    with db.begin() as conn:
        killed: int = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name AND pid <> pg_backend_pid() AND datname = current_database()"
            ),
            {"name": application_name},
        ).scalar_one()
    return killed


def backend_exit_wait(db: Engine, pid: int, within: float = 10.0) -> None:
    """Wait until the PostgreSQL backend ``pid`` has exited. A client closing its socket returns
    at once; the backend ends, and only then frees its session locks, a moment later."""
    deadline = time.monotonic() + within
    while True:
        with db.connect() as conn:
            alive = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
            if not alive.scalar_one():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"backend {pid} still alive after {within}s")
        time.sleep(0.01)


def audit_clean(engine: Engine) -> None:
    """Assert the ledger audit (``shared.audit``) finds nothing: every balance equals its ledger,
    money is conserved, every transfer's state matches its legs, no wallet passed its limits."""
    assert ledger_mismatches(engine) == []
    assert chain_breaks(engine) == []
    assert conservation_gaps(engine) == {}
    assert currency_mismatches(engine) == []
    assert transfer_mismatches(engine) == []
    assert held_mismatches(engine) == []
    assert limit_crossings(engine) == []
    assert limit_breaches(engine) == []
    assert reversal_excesses(engine) == []
    assert time_reversals(engine) == []
    assert metadata_mismatches(engine) == []
    assert json_nulls(engine) == []


def money_cleared(engine: Engine, queues: redis.Redis) -> None:
    """Empty what tenants own but their keys: the wallets and, by cascade, their ledger, pending
    operations, transfers and holds; the events those rows wrote; the webhook endpoints and their
    deliveries (an endpoint left behind would be sent every later event). First wait until no
    shard queue of ``queues`` holds a job and no worker holds a claimed one, so that no operation
    is applied to a wallet that is gone."""
    wait_until(lambda: shard_queues_drained(queues), timeout=30, what="the shard queues drained")
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # a holder of the lock fails the run, never hangs it
        conn.execute(text(f"TRUNCATE {wallets.name}, {events.name}, {webhook_endpoints.name} CASCADE"))
