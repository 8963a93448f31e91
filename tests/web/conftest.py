from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from rq import Worker
from sqlalchemy import Engine

from deploy.processes import start_worker, stop, wait_until
from tests.support.api import Api

DEPOSIT, WITHDRAW = "DEPOSIT", "WITHDRAW"


@pytest.fixture(scope="package")
def shard_worker(database: Engine, web_redis: redis.Redis) -> Iterator[None]:
    """One real shard worker process serving every shard of the web tests' Redis, for the web
    tests only: its chores (expiring holds, sweeping transfers and pending records) act on the
    whole database, so it must not run on through tests that do not expect it."""
    web_redis.flushdb()
    proc = start_worker()
    wait_until(lambda: len(Worker.all(connection=web_redis)) == 1, timeout=30, what="the shard worker")
    yield
    stop(proc)


@pytest.fixture(autouse=True)
def _web_stack(shard_worker: None, db: Engine) -> None:
    """Every web test runs with the worker up and ends with the ledger check."""


@pytest.fixture
def api(api_secret: str) -> Api:
    """A client with the suite's key (its tenant's wallets only)."""
    return Api(api_secret)


@pytest.fixture
def admin_client() -> Client:
    """A test client logged in as a new superuser."""
    username = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=username, password="a-long-test-password", email="")
    client = Client()
    assert client.login(username=username, password="a-long-test-password")
    return client


@pytest.fixture
def busy_wallet(api: Api) -> str:
    """A wallet with deposits and withdrawals (some refused) carrying references and metadata, a
    hold voided and one captured, a transfer out and a change of its limits."""
    wallet = api.create_wallet(100)
    other = api.create_wallet()
    for n in range(12):
        body: dict[str, Any] = {"operationType": DEPOSIT if n % 3 else WITHDRAW, "amount": str(7 + n * 5)}
        if n % 2:
            body["reference"] = f"order-{n % 4}"
        if n % 3 != 1:
            body["metadata"] = {"channel": "web" if n % 2 else "shop", "batch": str(n // 4)}
        assert api.post_operation(wallet, body).status_code in (200, 400)
    hold = api.post_hold(wallet, {"amount": "5.00", "reference": "order-1"}).json()["hold_id"]
    assert api.hold_change(hold, "void").status_code == 200
    hold = api.post_hold(wallet, {"amount": "3.00", "metadata": {"channel": "web"}}).json()["hold_id"]
    assert api.hold_change(hold, "capture").status_code == 200
    assert api.post_transfer(wallet, other, "4.00").status_code == 200
    assert api.patch_wallet(wallet, {"min_balance": "-10.00"}).status_code == 200
    return wallet
