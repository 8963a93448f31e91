"""``POST /api/v1/transfers`` and ``GET /api/v1/transfers/<id>`` through the Django app, with
the real shard worker process applying both legs."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from deploy.processes import wait_until
from shared import keys
from shared.config import Settings
from shared.money import MAX_BALANCE
from shared.transfers import credit_id, refund_id
from tests.support.api import Api, error_body, history, transfer, wallet_pair
from tests.support.factories import seed_applied_deposit
from tests.support.patching import patch_views


def test_a_transfer_moves_money_and_each_wallet_shows_its_leg(api: Api) -> None:
    source, destination = api.create_wallet(50), api.create_wallet(5)
    response = api.post_transfer(source, destination, "12.34")
    assert response.status_code == 200, response.content
    body = response.json()
    transfer_id = body["transfer_id"]
    assert body == {
        "status": "Success",
        "transfer_id": transfer_id,
        "state": "completed",
        "currency": "EUR",
        "from_balance": "37.66",
        "to_balance": "17.34",
    }
    assert (api.balance(source), api.balance(destination)) == (Decimal("37.66"), Decimal("17.34"))
    out, into = history(api, source)[0], history(api, destination)[0]
    assert (out["operationType"], out["amount"], out["transfer_id"], out["counterparty_wallet_id"]) == (
        "TRANSFER_OUT",
        "12.34",
        transfer_id,
        destination,
    )
    assert (into["operationType"], into["transfer_id"], into["counterparty_wallet_id"]) == (
        "TRANSFER_IN",
        transfer_id,
        source,
    )
    assert out["operation_id"] == transfer_id
    assert into["operation_id"] == str(credit_id(uuid.UUID(transfer_id)))
    assert out["api_key_id"] == into["api_key_id"] is not None  # the key is recorded on both legs
    found = transfer(api, transfer_id)
    assert (found["from"], found["to"], found["amount"], found["state"], found["error"]) == (
        source,
        destination,
        "12.34",
        "completed",
        None,
    )
    assert found["legs"] == {
        "debit": {"operation_id": transfer_id, "status": "applied", "error": None, "code": None},
        "credit": {"operation_id": into["operation_id"], "status": "applied", "error": None, "code": None},
        "refund": None,
    }


def test_a_source_that_cannot_pay_gets_400_and_the_refusal_is_in_its_ledger(api: Api) -> None:
    source, destination = api.create_wallet(10), api.create_wallet()
    response = api.post_transfer(source, destination, "10.01")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "Insufficient funds", "code": "insufficient_funds"},
    )
    refused = history(api, source)[0]
    assert (refused["operationType"], refused["status"], refused["error"]) == (
        "TRANSFER_OUT",
        "rejected",
        "Insufficient funds",
    )
    found = transfer(api, refused["transfer_id"])
    assert (found["state"], found["error"], found["legs"]["credit"]) == ("failed", "Insufficient funds", None)
    assert (api.balance(source), api.balance(destination)) == (Decimal("10.00"), Decimal("0.00"))
    assert history(api, destination) == []


def test_a_destination_that_cannot_take_it_fails_the_transfer_and_refunds_the_source(
    api: Api, db: Engine, settings: Settings
) -> None:
    # A destination on another shard (so the credit is its own leg), one cent below the limit.
    source, destination = wallet_pair(api, settings.shard_count, 20)
    seed_applied_deposit(db, uuid.UUID(destination), MAX_BALANCE - Decimal("0.01"))
    response = api.post_transfer(source, destination, "1.00")
    body = response.json()
    assert (response.status_code, body["error"], body["state"]) == (400, "Balance limit exceeded", "failed")
    assert api.balance(source) == Decimal("20.00")
    found = transfer(api, body["transfer_id"])
    assert (found["state"], found["error"], found["code"]) == (
        "failed",
        "Balance limit exceeded",
        "balance_limit_exceeded",
    )
    transfer_id = uuid.UUID(body["transfer_id"])
    assert found["legs"]["credit"] == {
        "operation_id": str(credit_id(transfer_id)),
        "status": "rejected",
        "error": "Balance limit exceeded",
        "code": "balance_limit_exceeded",
    }
    assert found["legs"]["refund"] == {
        "operation_id": str(refund_id(transfer_id)),
        "status": "applied",
        "error": None,
        "code": None,
    }
    assert [row["operationType"] for row in history(api, source)[:2]] == ["TRANSFER_REFUND", "TRANSFER_OUT"]


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"to": "{b}", "amount": "1.00"}, 'Invalid or missing "from": a wallet id', "invalid_from"),
        ({"from": "nope", "to": "{b}", "amount": "1.00"}, 'Invalid or missing "from": a wallet id', "invalid_from"),
        ({"from": "{a}", "to": 7, "amount": "1.00"}, 'Invalid or missing "to": a wallet id', "invalid_to"),
        ({"from": "{a}", "to": "{a}", "amount": "1.00"}, "A transfer needs two different wallets", "same_wallet"),
        ({"from": "{a}", "to": "{b}", "amount": "0"}, "Invalid or missing amount", "invalid_amount"),
        (
            {"from": "{a}", "to": "{b}", "amount": "1.001"},
            "Invalid or missing amount: EUR amounts have at most 2 decimals",
            "invalid_amount",
        ),
        ({"from": "{a}", "to": "{b}"}, "Invalid or missing amount", "invalid_amount"),
    ],
)
def test_bad_transfers_are_400_and_queue_nothing(
    api: Api, web_redis: redis.Redis, body: dict[str, Any], message: str, code: str
) -> None:
    a, b = api.create_wallet(10), api.create_wallet()
    filled = {k: v.format(a=a, b=b) if isinstance(v, str) else v for k, v in body.items()}
    jobs = set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*"))
    response = api.client.post("/api/v1/transfers", data=filled, content_type="application/json")
    assert (response.status_code, error_body(response)) == (400, {"error": message, "code": code})
    assert not set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*")) - jobs
    assert api.balance(a) == Decimal("10.00")


def test_a_wallet_that_does_not_exist_is_404_either_side(api: Api) -> None:
    wallet, unknown = api.create_wallet(10), str(uuid.uuid4())
    for source, destination in ((wallet, unknown), (unknown, wallet)):
        response = api.post_transfer(source, destination, "1.00")
        assert (response.status_code, error_body(response)) == (
            404,
            {"error": "Wallet not found", "code": "wallet_not_found"},
        )
    assert api.balance(wallet) == Decimal("10.00")
    for missing in (unknown, "not-a-uuid"):
        response = api.client.get(f"/api/v1/transfers/{missing}")
        assert (response.status_code, error_body(response)) == (
            404,
            {"error": "Transfer not found", "code": "transfer_not_found"},
        )


def test_clients_cannot_send_transfer_legs_as_operations(api: Api) -> None:
    wallet = api.create_wallet(10)
    for kind in ("TRANSFER_OUT", "TRANSFER_IN", "TRANSFER_REFUND"):
        response = api.post_operation(wallet, {"operationType": kind, "amount": "1.00"})
        assert (response.status_code, error_body(response)) == (
            400,
            {"error": "Invalid operationType", "code": "invalid_operation_type"},
        )


def test_idempotency_keys_are_scoped_to_the_source_and_replay_byte_for_byte(api: Api) -> None:
    source, destination, other = api.create_wallet(30), api.create_wallet(), api.create_wallet()
    first = api.post_transfer(source, destination, "10.00", **{"Idempotency-Key": "t-1"})
    again = api.post_transfer(source, destination, "10.00", **{"Idempotency-Key": "t-1"})
    assert first.status_code == 200
    assert (again.status_code, again.content) == (200, first.content)
    assert (first.get("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (None, "true")
    assert api.balance(source) == Decimal("20.00")
    # The same key with another amount, another destination, or as an operation: 422.
    for response in (
        api.post_transfer(source, destination, "11.00", **{"Idempotency-Key": "t-1"}),
        api.post_transfer(source, other, "10.00", **{"Idempotency-Key": "t-1"}),
        api.post_operation(source, {"operationType": "WITHDRAW", "amount": "10.00"}, **{"Idempotency-Key": "t-1"}),
    ):
        assert response.status_code == 422, response.content
    # Another source wallet has keys of its own.
    assert api.post_transfer(destination, other, "1.00", **{"Idempotency-Key": "t-1"}).status_code == 200
    # A refused transfer replays its refusal.
    refused = api.post_transfer(source, destination, "99.00", **{"Idempotency-Key": "t-2"})
    assert refused.status_code == 400
    replay = api.post_transfer(source, destination, "99.00", **{"Idempotency-Key": "t-2"})
    assert (replay.status_code, replay.content) == (400, refused.content)
    assert (api.balance(source), api.balance(destination), api.balance(other)) == (
        Decimal("20.00"),
        Decimal("9.00"),
        Decimal("1.00"),
    )


def test_a_late_transfer_is_202_with_a_location_that_settles(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch, db: Engine
) -> None:
    source, destination = api.create_wallet(10), api.create_wallet()
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, reply_timeout=0.0))
    response = api.post_transfer(source, destination, "4.00", **{"Idempotency-Key": "late"})
    body = response.json()
    assert (response.status_code, body["status"], body["state"]) == (202, "Pending", "pending")
    assert response.headers["Location"] == f"/api/v1/transfers/{body['transfer_id']}"
    wait_until(
        lambda: transfer(api, body["transfer_id"])["state"] == "completed", timeout=10, what="the transfer completed"
    )
    patch_views(monkeypatch, "get_settings", lambda: settings)
    replay = api.post_transfer(source, destination, "4.00", **{"Idempotency-Key": "late"})
    assert (replay.status_code, replay.json()["transfer_id"]) == (200, body["transfer_id"])
    assert (api.balance(source), api.balance(destination)) == (Decimal("6.00"), Decimal("4.00"))
    with db.connect() as conn:  # the web recorded the debit before answering 202
        recorded = conn.execute(
            text("SELECT operation_type, counterparty_id FROM pending_operations WHERE id = :id"),
            {"id": body["transfer_id"]},
        ).one()
    assert (recorded.operation_type, str(recorded.counterparty_id)) == ("TRANSFER_OUT", destination)


def test_a_keyed_retry_whose_redis_record_was_lost_points_to_the_first_transfer(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch, web_redis: redis.Redis
) -> None:
    source, destination = api.create_wallet(10), api.create_wallet()
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, reply_timeout=0.0))
    first = api.post_transfer(source, destination, "3.00", **{"Idempotency-Key": "lost"}).json()["transfer_id"]
    wait_until(lambda: transfer(api, first)["state"] == "completed", timeout=10, what="the first transfer completed")
    for record in web_redis.scan_iter(match=keys.idempotency_pattern(uuid.UUID(source))):
        web_redis.delete(record)  # as a Redis restart without persistence would
    second = api.post_transfer(source, destination, "3.00", **{"Idempotency-Key": "lost"})
    assert second.status_code == 202
    retry = second.json()["transfer_id"]
    assert retry != first
    # The worker answers the retry's debit from the ledger: its status URL shows the first transfer.
    wait_until(lambda: transfer(api, retry)["transfer_id"] == first, timeout=10, what="the retry's status URL")
    assert transfer(api, retry)["state"] == "completed"
    assert (api.balance(source), api.balance(destination)) == (Decimal("7.00"), Decimal("3.00"))
