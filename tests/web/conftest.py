from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from rq import Worker
from sqlalchemy import Engine

from tests.http_client import error_of
from tests.processes import start_worker, stop, wait_until


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


class Api:
    """The Django test client, speaking the API's JSON, with an API key."""

    def __init__(self, secret: str) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {secret}"})

    def post_operation(self, wallet_id: str, body: Any, **headers: str) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            f"/api/v1/wallets/{wallet_id}/operation", data=raw, content_type="application/json", headers=headers
        )

    def post_transfer(self, source: str, destination: str, amount: str, **headers: str) -> Any:
        body = json.dumps({"from": source, "to": destination, "amount": amount}).encode()
        return self.client.post("/api/v1/transfers", data=body, content_type="application/json", headers=headers)

    def post_hold(self, wallet_id: str, body: Any, **headers: str) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            f"/api/v1/wallets/{wallet_id}/holds", data=raw, content_type="application/json", headers=headers
        )

    def hold_change(self, hold_id: str, action: str, body: Any = None, **headers: str) -> Any:
        """``action`` is ``capture`` or ``void``; no body unless given."""
        raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            f"/api/v1/holds/{hold_id}/{action}", data=raw, content_type="application/json", headers=headers
        )

    def money(self, wallet_id: str) -> tuple[Decimal, Decimal, Decimal]:
        """(balance, available, held)"""
        response = self.client.get(f"/api/v1/wallets/{wallet_id}")
        assert response.status_code == 200
        body = response.json()
        return Decimal(body["balance"]), Decimal(body["available"]), Decimal(body["held"])

    def create_wallet(self, balance: Decimal | int | str = 0) -> str:
        """A new wallet, funded through the API (so its ledger explains its balance)."""
        response = self.client.post("/api/v1/wallets")
        assert response.status_code == 201
        wallet_id: str = response.json()["id"]
        if Decimal(balance):
            funded = self.post_operation(wallet_id, {"operationType": "DEPOSIT", "amount": str(balance)})
            assert funded.status_code == 200, funded.content
        return wallet_id

    def balance(self, wallet_id: str) -> Decimal:
        response = self.client.get(f"/api/v1/wallets/{wallet_id}")
        assert response.status_code == 200
        return Decimal(response.json()["balance"])


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


def error_body(response: Any) -> dict[str, Any]:
    """The JSON of a Django test client's error answer without its ``request_id`` (checked to be
    the answer's ``X-Request-Id``)."""
    return error_of(response.status_code, response.json(), response.headers)[1]
