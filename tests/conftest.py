"""Fixtures shared by the whole suite.

Tests talk to the machine's real PostgreSQL (database ``wallet_test``, or
``TEST_DATABASE_URL``) and Redis (database 14, or ``TEST_REDIS_URL``, for the worker
process the web tests use; 15, or ``TEST_LOCAL_REDIS_URL``, for tests that run a worker
in-process), each dropped or flushed. Every test creates its own wallets, so tests
never depend on each other's data, and the ledger invariant is checked over
all wallets after every test that touches the database.
"""

from __future__ import annotations

import os

os.environ.update(
    DATABASE_URL=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/wallet_test"),
    REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
    DJANGO_SETTINGS_MODULE="web.settings",
    SECRET_KEY="test-only-secret-key",
    DEBUG="0",
    ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
    REPLY_TIMEOUT="10",
    # The suite's own key sends thousands of operations: its limits are out of the way, and
    # tests/web/test_rate_limits.py runs a gunicorn with small ones.
    RATE_LIMIT_WRITES="1000000/second",
    RATE_LIMIT_WALLETS="1000000/second",
    RATE_LIMIT_IDEMPOTENCY_KEYS="1000000/second",
)

import dataclasses
from collections.abc import Iterator

import django
import pytest
import redis
from sqlalchemy import Engine

from deploy.processes import ROOT
from shared.config import Settings, get_settings
from shared.connections import engine_from_settings
from tests.support import http_client
from tests.support.databases import IN_PROCESS_LEASES, IN_PROCESS_REDIS_URL, audit_clean, manage, money_cleared
from tests.support.factories import TEST_TENANT, api_key
from tests.support.receiver import Receiver

# whitenoise warns (an error here) about a missing STATIC_ROOT when a test module builds the WSGI
# app at import; the database fixture fills it with collectstatic.
(ROOT / ".static").mkdir(exist_ok=True)

django.setup()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Engine]:
    """The test database, created afresh and migrated once per session; an engine on it."""
    print(manage("createdb", "--fresh"), end="")  # never a schema another checkout migrated
    manage("migrate", "--verbosity", "0")
    manage("collectstatic", "--noinput", "--verbosity", "0")  # as `make migrate` does: the admin's assets
    engine = engine_from_settings(settings, pool_size=4, application_name="wallet-tests")
    # Every client of the suite authenticates, with this key unless a test makes its own.
    http_client.API_KEY = api_key(TEST_TENANT).secret
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def ledger(database: Engine, web_redis: redis.Redis) -> Engine:
    """The test database with no money of an earlier module in it (``money_cleared``), so that
    the audit after each test reads one module's ledger, not the whole suite's (it took 0.3 s
    a test by the end of the suite). Earlier modules' processes are stopped by now; the web
    tests' shard worker runs on, and is waited for."""
    money_cleared(database, web_redis)
    return database


@pytest.fixture
def db(ledger: Engine) -> Iterator[Engine]:
    """The test database; after the test, every balance must equal its ledger, money must be
    conserved, every transfer's state must match its legs and no wallet may pass its limits
    (``shared.audit``)."""
    yield ledger
    audit_clean(ledger)


@pytest.fixture(scope="session")
def api_secret(database: Engine) -> str:
    """The bearer key of the suite's tenant (read and write)."""
    assert http_client.API_KEY is not None
    return http_client.API_KEY


@pytest.fixture(scope="session")
def web_redis(settings: Settings) -> redis.Redis:
    """The Redis database the web app (and the shard worker process) use."""
    return redis.Redis.from_url(settings.redis_url)


@pytest.fixture
def local_settings(settings: Settings) -> Settings:
    """Settings for an in-process worker, on a Redis database no worker process watches."""
    url = IN_PROCESS_REDIS_URL
    # Its own lease namespace: the web tests' worker process holds the default one's locks.
    return dataclasses.replace(settings, redis_url=url, reply_timeout=0.0, lease_namespace=IN_PROCESS_LEASES)


@pytest.fixture
def local_redis(local_settings: Settings) -> Iterator[redis.Redis]:
    """An empty Redis database for in-process worker tests."""
    connection = redis.Redis.from_url(local_settings.redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a spare loopback port (``tests.support.receiver``)."""
    found = Receiver()
    yield found
    found.stop()
