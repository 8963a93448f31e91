"""Idempotency-Key: replays answer the original response; a reused key with another request is refused."""

from __future__ import annotations

import dataclasses
import json
import uuid
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine, func, select

from shared import keys
from shared.config import Settings
from shared.tables import wallet_operations
from tests.support.api import Api, error_body
from tests.support.patching import patch_views

DEPOSIT = {"operationType": "DEPOSIT", "amount": "10.00"}


def ledger_rows(engine: Engine, wallet: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(wallet_operations).where(wallet_operations.c.wallet_id == wallet)
        return int(conn.execute(query).scalar_one())


def test_same_key_same_request_answers_the_original(api: Api, db: Engine) -> None:
    wallet = api.create_wallet()
    first = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "pay-1"})
    again = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "pay-1"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert (first.get("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (None, "true")
    assert first["X-Request-Id"] != again["X-Request-Id"]  # each request its own id
    assert api.balance(wallet) == Decimal("10.00")
    assert ledger_rows(db, wallet) == 1


def test_a_rejection_is_replayed_too(api: Api) -> None:
    wallet = api.create_wallet(5)
    withdraw = {"operationType": "WITHDRAW", "amount": "9.00"}
    first = api.post_operation(wallet, withdraw, **{"Idempotency-Key": "w-1"})
    api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "100.00"})
    again = api.post_operation(wallet, withdraw, **{"Idempotency-Key": "w-1"})
    assert (first.status_code, first.content) == (again.status_code, again.content) == (400, first.content)
    # What the ledger decided carries no request id in its body: it replays byte for byte.
    assert first.json() == {"error": "Insufficient funds", "code": "insufficient_funds"}
    assert (first.get("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (None, "true")
    assert api.balance(wallet) == Decimal("105.00")


def test_same_key_different_request_is_422(api: Api) -> None:
    wallet = api.create_wallet()
    assert api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "k"}).status_code == 200
    other = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "11.00"}, **{"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert error_body(other) == {
        "error": "Idempotency-Key was already used with a different request",
        "code": "idempotency_key_reused",
    }
    assert api.balance(wallet) == Decimal("10.00")


def test_keys_are_scoped_to_their_wallet(api: Api) -> None:
    first, second = api.create_wallet(), api.create_wallet()
    a = api.post_operation(first, DEPOSIT, **{"Idempotency-Key": "shared"})
    b = api.post_operation(second, DEPOSIT, **{"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 200
    assert a.json()["operation_id"] != b.json()["operation_id"]
    assert api.balance(first) == api.balance(second) == Decimal("10.00")


def test_without_a_key_each_request_is_its_own_operation(api: Api) -> None:
    wallet = api.create_wallet()
    assert api.post_operation(wallet, DEPOSIT).status_code == 200
    assert api.post_operation(wallet, DEPOSIT).status_code == 200
    assert api.balance(wallet) == Decimal("20.00")


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", "tab\there"])
def test_invalid_keys_are_400(api: Api, key: str) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid Idempotency-Key")


def test_replay_while_in_flight_is_409(api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    wallet = api.create_wallet()
    impatient = dataclasses.replace(settings, reply_timeout=0.2)
    patch_views(monkeypatch, "get_settings", lambda: impatient)
    monkeypatch.setattr("web.wallets.money.queueing._enqueue_commands", lambda *_: [])  # recorded, never queued
    first = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "slow"})
    assert first.status_code == 202
    again = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "slow"})
    assert again.status_code == 409
    assert error_body(again) == {
        "error": "A request with this Idempotency-Key is still in progress",
        "code": "idempotency_key_in_flight",
    }


def test_replay_after_a_202_answers_the_settled_result(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = api.create_wallet()
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, reply_timeout=0.0))
    first = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "later"})
    assert first.status_code == 202
    patch_views(monkeypatch, "get_settings", lambda: settings)
    again = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "later"})
    assert again.status_code == 200
    assert again.json()["operation_id"] == first.json()["operation_id"]
    assert api.balance(wallet) == Decimal("10.00")


def test_the_ledger_remembers_keys_redis_forgot(api: Api, db: Engine, web_redis: redis.Redis) -> None:
    wallet = api.create_wallet()
    first = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "durable"})
    for record in web_redis.scan_iter(match=keys.idempotency_pattern(wallet)):
        web_redis.delete(record)  # as a Redis restart without persistence would
    again = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "durable"})
    assert (again.status_code, again.content) == (200, first.content)
    different = api.post_operation(
        wallet, {"operationType": "WITHDRAW", "amount": "1.00"}, **{"Idempotency-Key": "durable"}
    )
    assert different.status_code == 422
    assert ledger_rows(db, wallet) == 1
    assert api.balance(wallet) == Decimal("10.00")


def test_a_refused_request_never_takes_over_a_forgotten_key(api: Api, db: Engine, web_redis: redis.Redis) -> None:
    """Redis lost the key's record; a different request under the key is refused and must not
    leave its own record behind: the original request's retries still replay its answer."""
    wallet = api.create_wallet()
    first = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "forgotten"})
    assert first.status_code == 200
    for record in web_redis.scan_iter(match=keys.idempotency_pattern(wallet)):
        web_redis.delete(record)
    withdraw = {"operationType": "WITHDRAW", "amount": "1.00"}
    for _ in range(2):
        assert api.post_operation(wallet, withdraw, **{"Idempotency-Key": "forgotten"}).status_code == 422
        again = api.post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "forgotten"})
        assert (again.status_code, again.content) == (200, first.content)
    assert ledger_rows(db, wallet) == 1
    assert api.balance(wallet) == Decimal("10.00")


def test_concurrent_replays_apply_once(api: Api, api_secret: str, db: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    wallet = api.create_wallet()

    def post(_: int) -> tuple[int, bytes]:
        try:
            response = Api(api_secret).post_operation(wallet, DEPOSIT, **{"Idempotency-Key": "burst"})
            return response.status_code, response.content
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(16)))
    # Each is the first answer replayed, or a 409 while the first is still in flight.
    in_flight = [json.loads(body) for status, body in answers if status == 409]
    assert all(error["code"] == "idempotency_key_in_flight" for error in in_flight), in_flight
    assert len(in_flight) + sum(status == 200 for status, _ in answers) == len(answers)
    assert len({body for status, body in answers if status == 200}) == 1
    assert ledger_rows(db, wallet) == 1
    assert api.balance(wallet) == Decimal("10.00")
    assert uuid.UUID(json.loads(next(b for s, b in answers if s == 200))["operation_id"])
