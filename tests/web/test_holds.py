"""Holds through the Django app (``POST /api/v1/wallets/<id>/holds``, ``/api/v1/holds/<id>``,
its ``capture`` and ``void``), with the real shard worker process deciding them."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from deploy.processes import wait_until
from shared import keys
from shared.config import Settings
from tests.support.api import Api, error_body, history, transfer, wallet_pair
from tests.support.factories import api_key
from tests.support.patching import patch_views


def hold(api: Api, hold_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/holds/{hold_id}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def held(api: Api, wallet: str, amount: str, **fields: Any) -> str:
    """The id of a new active hold of ``amount`` on ``wallet``."""
    response = api.post_hold(wallet, {"amount": amount, **fields})
    assert response.status_code == 201, response.content
    return str(response.json()["hold_id"])


def test_a_hold_sets_money_aside_in_the_balance_and_out_of_what_is_available(api: Api) -> None:
    wallet = api.create_wallet(100)
    before = datetime.now(UTC)
    response = api.post_hold(wallet, {"amount": "30.00", "expires_in": 3600})
    assert response.status_code == 201, response.content
    body = response.json()
    hold_id = body["hold_id"]
    expires_at = datetime.fromisoformat(body.pop("expires_at"))
    assert before + timedelta(seconds=3600) <= expires_at <= datetime.now(UTC) + timedelta(seconds=3600)
    assert body == {
        "hold_id": hold_id,
        "state": "active",
        "amount": "30.00",
        "currency": "EUR",
        "available": "70.00",
        "held": "30.00",
        "balance": "100.00",
    }
    assert response["Location"] == f"/api/v1/holds/{hold_id}"
    assert api.money(wallet) == (Decimal("100.00"), Decimal("70.00"), Decimal("30.00"))
    entry = history(api, wallet)[0]
    assert (entry["operationType"], entry["amount"], entry["hold_id"], entry["balance_after"]) == (
        "HOLD",
        "30.00",
        hold_id,
        "100.00",
    )
    assert (entry["operation_id"], entry["held_after"]) == (hold_id, "30.00")
    found = hold(api, hold_id)
    assert (found["wallet_id"], found["amount"], found["state"], found["captured"], found["to"]) == (
        wallet,
        "30.00",
        "active",
        None,
        None,
    )
    assert datetime.fromisoformat(found["expires_at"]) == expires_at


def test_the_default_expiry_is_7_days(api: Api) -> None:
    wallet = api.create_wallet(10)
    found = hold(api, held(api, wallet, "1.00"))
    lasts = datetime.fromisoformat(found["expires_at"]) - datetime.fromisoformat(found["created_at"])
    assert lasts == timedelta(days=7)


def test_withdrawals_transfers_and_new_holds_see_only_available_money(api: Api) -> None:
    wallet, peer = api.create_wallet(100), api.create_wallet()
    held(api, wallet, "60.00")
    refused = api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "40.01"})
    assert (refused.status_code, refused.json()) == (400, {"error": "Insufficient funds", "code": "insufficient_funds"})
    assert (
        api.post_transfer(wallet, peer, "40.01").status_code,
        api.post_hold(wallet, {"amount": "40.01"}).status_code,
    ) == (
        400,
        400,
    )
    assert api.post_hold(wallet, {"amount": "40.01"}).json() == {
        "error": "Insufficient funds",
        "code": "insufficient_funds",
    }
    assert api.money(wallet) == (Decimal("100.00"), Decimal("40.00"), Decimal("60.00"))
    assert api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "40.00"}).status_code == 200
    assert api.money(wallet) == (Decimal("60.00"), Decimal("0.00"), Decimal("60.00"))
    refused_hold = history(api, wallet)[1]
    assert (refused_hold["operationType"], refused_hold["status"], refused_hold["hold_id"]) == (
        "HOLD",
        "rejected",
        None,
    )
    # A refused hold is no hold; its id says why.
    assert hold(api, refused_hold["operation_id"]) == {
        "hold_id": refused_hold["operation_id"],
        "state": "rejected",
        "error": "Insufficient funds",
        "code": "insufficient_funds",
    }


def test_a_partial_capture_takes_that_much_and_releases_the_rest_once(api: Api) -> None:
    wallet = api.create_wallet(100)
    hold_id = held(api, wallet, "30.00")
    response = api.hold_change(hold_id, "capture", {"amount": "25.00"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "status": "Success",
        "hold_id": hold_id,
        "operation_id": body["operation_id"],
        "state": "captured",
        "captured": "25.00",
        "released": "5.00",
        "currency": "EUR",
        "balance": "75.00",
        "available": "75.00",
        "held": "0.00",
    }
    assert api.money(wallet) == (Decimal("75.00"), Decimal("75.00"), Decimal("0.00"))
    found = hold(api, hold_id)
    assert (found["state"], found["captured"], found["resolved_by"], found["transfer_id"]) == (
        "captured",
        "25.00",
        body["operation_id"],
        None,
    )
    for action in ("capture", "void"):
        again = api.hold_change(hold_id, action)
        assert (again.status_code, again.json()) == (
            409,
            {"error": "Hold was already captured", "code": "hold_captured", "hold_id": hold_id, "state": "captured"},
        )
    capture = history(api, wallet)[2]  # below the two refusals
    assert (capture["operationType"], capture["amount"], capture["balance_after"], capture["hold_id"]) == (
        "HOLD_CAPTURE",
        "25.00",
        "75.00",
        hold_id,
    )
    assert api.money(wallet) == (Decimal("75.00"), Decimal("75.00"), Decimal("0.00"))


def test_a_capture_without_an_amount_takes_all_and_more_than_held_is_refused(api: Api) -> None:
    wallet = api.create_wallet(100)
    hold_id = held(api, wallet, "30.00")
    too_much = api.hold_change(hold_id, "capture", {"amount": "30.01"})
    assert (too_much.status_code, too_much.json()) == (
        400,
        {"error": "Capture amount exceeds the held amount", "code": "capture_exceeds_hold"},
    )
    assert hold(api, hold_id)["state"] == "active"
    response = api.hold_change(hold_id, "capture", {})
    assert (response.status_code, response.json()["captured"], response.json()["released"]) == (200, "30.00", "0.00")
    assert api.money(wallet) == (Decimal("70.00"), Decimal("70.00"), Decimal("0.00"))


def test_a_void_releases_all_of_it_once(api: Api) -> None:
    wallet = api.create_wallet(50)
    hold_id = held(api, wallet, "50.00")
    response = api.hold_change(hold_id, "void")
    body = response.json()
    assert (response.status_code, body["state"], body["released"], body["available"]) == (
        200,
        "voided",
        "50.00",
        "50.00",
    )
    assert hold(api, hold_id)["state"] == "voided"
    late = api.hold_change(hold_id, "capture")
    assert (late.status_code, late.json()) == (
        409,
        {"error": "Hold was voided", "code": "hold_voided", "hold_id": hold_id, "state": "voided"},
    )
    assert api.money(wallet) == (Decimal("50.00"), Decimal("50.00"), Decimal("0.00"))


def test_a_capture_to_another_wallet_is_a_transfer(api: Api, settings: Settings) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 100)
    hold_id = held(api, source, "40.00", to=destination)
    assert hold(api, hold_id)["to"] == destination
    response = api.hold_change(hold_id, "capture", {"amount": "15.00"})
    body = response.json()
    assert response.status_code == 200, body
    assert (body["transfer_id"], body["transfer_state"], body["balance"]) == (
        body["operation_id"],
        "completed",
        "85.00",
    )
    assert api.money(source) == (Decimal("85.00"), Decimal("85.00"), Decimal("0.00"))
    assert api.balance(destination) == Decimal("15.00")
    found = transfer(api, body["transfer_id"])
    assert (found["from"], found["to"], found["amount"], found["state"]) == (source, destination, "15.00", "completed")
    assert hold(api, hold_id)["transfer_id"] == body["transfer_id"]
    into = history(api, destination)[0]
    assert (into["operationType"], into["transfer_id"], into["counterparty_wallet_id"]) == (
        "TRANSFER_IN",
        body["transfer_id"],
        source,
    )


def test_an_expired_hold_is_released_by_the_worker_and_a_late_capture_is_409(api: Api) -> None:
    wallet = api.create_wallet(20)
    hold_id = held(api, wallet, "15.00", expires_in=1)
    assert api.money(wallet) == (Decimal("20.00"), Decimal("5.00"), Decimal("15.00"))
    wait_until(lambda: hold(api, hold_id)["state"] != "active", timeout=15, what="the worker expiring the hold")
    assert hold(api, hold_id)["state"] == "expired"
    assert api.money(wallet) == (Decimal("20.00"), Decimal("20.00"), Decimal("0.00"))
    late = api.hold_change(hold_id, "capture")
    assert (late.status_code, late.json()) == (
        409,
        {"error": "Hold has expired", "code": "hold_expired", "hold_id": hold_id, "state": "expired"},
    )
    expiry = next(row for row in history(api, wallet) if row["operationType"] == "HOLD_EXPIRE")
    assert (expiry["hold_id"], expiry["amount"], expiry["held_after"]) == (hold_id, "15.00", "0.00")


def test_a_capture_after_expires_at_is_refused_even_before_the_sweep(
    api: Api, db: Engine, web_redis: redis.Redis
) -> None:
    wallet = api.create_wallet(20)
    hold_id = held(api, wallet, "15.00")
    with db.begin() as conn:  # as if it were asked to last until a moment ago
        conn.execute(text("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = :id"), {"id": hold_id})
    late = api.hold_change(hold_id, "capture")
    assert (late.status_code, late.json()["error"]) == (409, "Hold has expired")
    assert api.balance(wallet) == Decimal("20.00")


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"amount": "0"}, "Invalid or missing amount", "invalid_amount"),
        ({"amount": "1.001"}, "Invalid or missing amount: EUR amounts have at most 2 decimals", "invalid_amount"),
        ({}, "Invalid or missing amount", "invalid_amount"),
        (
            {"amount": "1.00", "expires_in": 0},
            '"expires_in" must be a whole number of seconds from 1 to 2592000 (30 days)',
            "invalid_expires_in",
        ),
        (
            {"amount": "1.00", "expires_in": 2592001},
            '"expires_in" must be a whole number of seconds from 1 to 2592000 (30 days)',
            "invalid_expires_in",
        ),
        (
            {"amount": "1.00", "expires_in": "3600"},
            '"expires_in" must be a whole number of seconds from 1 to 2592000 (30 days)',
            "invalid_expires_in",
        ),
        (
            {"amount": "1.00", "expires_in": 1.5},
            '"expires_in" must be a whole number of seconds from 1 to 2592000 (30 days)',
            "invalid_expires_in",
        ),
        (
            {"amount": "1.00", "expires_in": True},
            '"expires_in" must be a whole number of seconds from 1 to 2592000 (30 days)',
            "invalid_expires_in",
        ),
        ({"amount": "1.00", "to": "nope"}, 'Invalid or missing "to": a wallet id', "invalid_to"),
        ({"amount": "1.00", "to": 7}, 'Invalid or missing "to": a wallet id', "invalid_to"),
        (  # a withdrawal's body posted to /holds
            {"operationType": "WITHDRAW", "amount": "1.00"},
            "Unknown fields: operationType (this request takes: amount, expires_in, to, reference, metadata)",
            "unknown_field",
        ),
    ],
)
def test_bad_hold_bodies_get_400_and_nothing_is_queued(
    api: Api, web_redis: redis.Redis, body: dict[str, Any], error: str, code: str
) -> None:
    wallet = api.create_wallet(10)
    jobs = set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*"))
    response = api.post_hold(wallet, body)
    assert (response.status_code, error_body(response)) == (400, {"error": error, "code": code})
    assert not set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*")) - jobs
    assert api.money(wallet) == (Decimal("10.00"), Decimal("10.00"), Decimal("0.00"))


def test_a_hold_to_itself_a_bad_capture_amount_or_body_is_400(api: Api) -> None:
    wallet = api.create_wallet(10)
    response = api.post_hold(wallet, {"amount": "1.00", "to": wallet})
    assert (response.status_code, error_body(response)) == (
        400,
        {"error": 'A hold\'s "to" must be another wallet', "code": "hold_to_self"},
    )
    hold_id = held(api, wallet, "5.00")
    for body, error, code in (
        ({"amount": "-1"}, "Invalid or missing amount", "invalid_amount"),
        ({"amount": None}, "Invalid or missing amount", "invalid_amount"),  # absent means all; null is no amount
        ({"amont": "1.00"}, "Unknown fields: amont (this request takes: amount, reference, metadata)", "unknown_field"),
        (
            {"amount": "1.00", "to": wallet},
            "Unknown fields: to (this request takes: amount, reference, metadata)",
            "unknown_field",
        ),
        (b"[1]", "Request body must be a JSON object", "body_not_object"),
        (b"{", "Malformed JSON body", "malformed_json"),
    ):
        response = api.hold_change(hold_id, "capture", body)
        assert (response.status_code, error_body(response)) == (400, {"error": error, "code": code})
    assert api.hold_change(hold_id, "void", b"{").status_code == 400
    assert error_body(api.hold_change(hold_id, "void", {"amount": "1.00"})) == {
        "error": "Unknown fields: amount (this request takes: reference, metadata)",
        "code": "unknown_field",
    }
    form = api.client.post(f"/api/v1/holds/{hold_id}/capture", data="amount=1", content_type="text/plain")
    assert form.status_code == 415
    assert hold(api, hold_id)["state"] == "active"


def test_unknown_holds_and_wallets_are_404(api: Api) -> None:
    wallet = api.create_wallet(10)
    unknown = str(uuid.uuid4())
    assert error_body(api.post_hold(unknown, {"amount": "1.00"})) == {
        "error": "Wallet not found",
        "code": "wallet_not_found",
    }
    response = api.post_hold(wallet, {"amount": "1.00", "to": unknown})
    assert (response.status_code, error_body(response)) == (
        404,
        {"error": "Wallet not found", "code": "wallet_not_found"},
    )
    for action in ("capture", "void"):
        response = api.hold_change(unknown, action)
        assert response.status_code == 404
        assert error_body(response) == {"error": "Hold not found", "code": "hold_not_found"}
    assert api.client.get(f"/api/v1/holds/{unknown}").status_code == 404
    assert error_body(api.client.get("/api/v1/holds/not-a-uuid")) == {
        "error": "Hold not found",
        "code": "hold_not_found",
    }
    assert api.money(wallet) == (Decimal("10.00"), Decimal("10.00"), Decimal("0.00"))


def test_another_tenants_wallet_cannot_be_the_to_of_a_hold(api: Api) -> None:
    theirs = Api(api_key(f"other-{uuid.uuid4().hex[:8]}").secret).create_wallet()
    wallet = api.create_wallet(10)
    response = api.post_hold(wallet, {"amount": "1.00", "to": theirs})
    assert (response.status_code, error_body(response)) == (
        404,
        {"error": "Wallet not found", "code": "wallet_not_found"},
    )
    assert api.money(wallet) == (Decimal("10.00"), Decimal("10.00"), Decimal("0.00"))


def test_a_keyed_hold_replays_and_another_request_under_its_key_is_422(api: Api) -> None:
    wallet = api.create_wallet(100)
    first = api.post_hold(wallet, {"amount": "10.00", "expires_in": 600}, **{"Idempotency-Key": "h-1"})
    again = api.post_hold(wallet, {"amount": "10.00", "expires_in": 600}, **{"Idempotency-Key": "h-1"})
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert (first.get("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (None, "true")
    for other in ({"amount": "10.00", "expires_in": 601}, {"amount": "10.01", "expires_in": 600}, {"amount": "10.00"}):
        response = api.post_hold(wallet, other, **{"Idempotency-Key": "h-1"})
        assert (response.status_code, error_body(response)) == (
            422,
            {"error": "Idempotency-Key was already used with a different request", "code": "idempotency_key_reused"},
        )
    assert api.money(wallet) == (Decimal("100.00"), Decimal("90.00"), Decimal("10.00"))


def test_a_keyed_capture_replays_its_success_not_409(api: Api) -> None:
    wallet = api.create_wallet(100)
    hold_id = held(api, wallet, "10.00")
    first = api.hold_change(hold_id, "capture", {"amount": "4.00"}, **{"Idempotency-Key": "c-1"})
    again = api.hold_change(hold_id, "capture", {"amount": "4.00"}, **{"Idempotency-Key": "c-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.content == again.content
    assert (first.get("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (None, "true")
    other = api.hold_change(hold_id, "void", **{"Idempotency-Key": "c-1"})
    assert other.status_code == 422
    unkeyed = api.hold_change(hold_id, "capture", {"amount": "4.00"})
    assert unkeyed.status_code == 409
    assert api.balance(wallet) == Decimal("96.00")


def test_a_late_hold_is_202_with_a_location_that_settles(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch, db: Engine
) -> None:
    wallet = api.create_wallet(10)
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, reply_timeout=0.0))
    response = api.post_hold(wallet, {"amount": "3.00", "expires_in": 900}, **{"Idempotency-Key": "late"})
    body = response.json()
    assert (response.status_code, body["status"], body["state"]) == (202, "Pending", "pending")
    hold_id = body["hold_id"]
    assert response["Location"] == f"/api/v1/holds/{hold_id}"
    wait_until(lambda: hold(api, hold_id)["state"] == "active", timeout=10, what="the hold made")
    with db.connect() as conn:  # the web recorded it before answering 202, expiry and all
        recorded = conn.execute(
            text(
                "SELECT operation_type, hold_id, expires_at - created_at AS lasts"
                " FROM pending_operations WHERE id = :id"
            ),
            {"id": hold_id},
        ).one()
    assert (recorded.operation_type, str(recorded.hold_id), recorded.lasts) == ("HOLD", hold_id, timedelta(seconds=900))
    patch_views(monkeypatch, "get_settings", lambda: settings)
    replay = api.post_hold(wallet, {"amount": "3.00", "expires_in": 900}, **{"Idempotency-Key": "late"})
    assert (replay.status_code, replay.json()["hold_id"]) == (201, hold_id)
    assert api.money(wallet) == (Decimal("10.00"), Decimal("7.00"), Decimal("3.00"))
