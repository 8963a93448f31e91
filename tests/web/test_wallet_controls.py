"""A wallet's limits and status through the API (``POST /wallets``, ``PATCH /wallets/<id>``),
decided by the real shard worker process in order with the wallet's money."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from shared.config import Settings
from shared.tables import wallet_operations
from shared.wallet_controls import Controls
from tests.support.api import NO_ANNOTATIONS, Api, error_body, events_feed, history, transfer, wallet_pair
from tests.support.factories import TEST_TENANT, api_key
from web.wallets.auth.api_keys import Scope


def shown(api: Api, wallet: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/wallets/{wallet}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def refusal(response: Any) -> tuple[int, str, str]:
    """A writer's refusal: status, error and code (it carries no request id: a replay of its key
    answers it byte for byte)."""
    body = response.json()
    return response.status_code, body["error"], body["code"]


def test_a_wallet_is_made_with_its_limits_and_shows_them(api: Api) -> None:
    response = api.client.post(
        "/api/v1/wallets", {"currency": "JPY", "min_balance": "-5000", "max_balance": 100000}, "application/json"
    )
    assert response.status_code == 201, response.content
    made = response.json()
    limits = {"min_balance": "-5000", "max_balance": "100000", "status": "active"}
    money = {"balance": "0", "available": "0", "held": "0"}
    assert made == {"id": made["id"], "currency": "JPY", **money, **limits, **NO_ANNOTATIONS}
    assert shown(api, made["id"]) == made
    # The limits are the wallet's first ledger row, as a later change would be.
    [row] = history(api, made["id"])
    assert (row["operationType"], row["amount"], row["status"], row["change"]) == (
        "WALLET_UPDATE",
        "0",
        "applied",
        {"min_balance": "-5000", "max_balance": "100000"},
    )
    # No limits, no row.
    assert history(api, api.create_wallet()) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"min_balance": "5.00"}, "min_balance must be 0 or negative (an overdraft line)"),
        ({"max_balance": "-1"}, "max_balance must be 0 or more"),
        ({"min_balance": "-1.001"}, "min_balance: EUR amounts have at most 2 decimals"),
        ({"currency": "JPY", "max_balance": "1.5"}, "max_balance: JPY amounts have no decimals"),
        ({"min_balance": None}, "min_balance must be a decimal string"),
        ({"min_balance": "lots"}, "min_balance must be a decimal string"),
        ({"max_balance": True}, "max_balance must be a decimal string"),
        ({"max_balance": "1e30"}, "max_balance must be a decimal string within 999999999999999999.99"),
    ],
)
def test_limits_out_of_their_rules_make_no_wallet(api: Api, body: dict[str, Any], message: str) -> None:
    response = api.client.post("/api/v1/wallets", body, "application/json")
    assert (response.status_code, error_body(response)) == (
        400,
        {"error": f"Invalid wallet controls: {message}", "code": "invalid_wallet_controls"},
    )


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            {},
            "Invalid wallet controls: a change names at least one of min_balance, max_balance, status, metadata",
            None,
        ),
        ({"metadata": "gold"}, "Invalid wallet controls: metadata must be a JSON object", None),
        ({"metadata": {"tier": 1}}, "Invalid wallet controls: metadata values must be strings of at most 500", None),
        (
            {"metadata": {f"k{i}": "v" for i in range(51)}},
            "Invalid wallet controls: metadata may have at most 50",
            None,
        ),
        ({"status": "gone"}, "Invalid wallet controls: status must be one of active, frozen, closed", None),
        ({"min_balance": "-0.001"}, "Invalid wallet controls: min_balance: EUR amounts have at most 2 decimals", None),
        ({"balance": "100.00"}, "Unknown fields: balance", "unknown_field"),
    ],
)
def test_a_change_out_of_its_rules_is_refused_before_anything_is_queued(
    api: Api, db: Engine, body: dict[str, Any], message: str, code: str | None
) -> None:
    wallet = api.create_wallet(5)
    response = api.patch_wallet(wallet, body)
    found = error_body(response)
    assert (response.status_code, found["error"].startswith(message), found["code"]) == (
        400,
        True,
        code or "invalid_wallet_controls",
    )
    assert len(history(api, wallet)) == 1  # its funding only


def test_a_change_is_answered_with_the_wallet_after_it_and_replays_under_its_key(api: Api) -> None:
    wallet = api.create_wallet(90)
    change = {"min_balance": "-50", "max_balance": "1000.00", "status": "frozen"}
    response = api.patch_wallet(wallet, change, **{"Idempotency-Key": "controls-1"})
    assert response.status_code == 200, response.content
    after = {"currency": "EUR", "balance": "90.00", "available": "90.00", "held": "0.00"}
    changed = {"min_balance": "-50.00", "max_balance": "1000.00", "status": "frozen"}
    expected = {"id": wallet, **after, **changed, **NO_ANNOTATIONS}
    assert response.json() == expected
    # Money moves, and a later change: a replay still answers the wallet right after it.
    assert api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "10.00"}).status_code == 200
    assert api.patch_wallet(wallet, {"max_balance": "2000.00"}).status_code == 200
    again = api.patch_wallet(wallet, {**change, "min_balance": "-50.00"}, **{"Idempotency-Key": "controls-1"})
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (200, expected, "true")
    other = api.patch_wallet(wallet, {"status": "active"}, **{"Idempotency-Key": "controls-1"})
    assert (other.status_code, error_body(other)["code"]) == (422, "idempotency_key_reused")
    assert [row["operationType"] for row in history(api, wallet)] == [
        "WALLET_UPDATE",
        "DEPOSIT",
        "WALLET_UPDATE",
        "DEPOSIT",
    ]
    # Each change is an event: the wallet after it.
    [event, _] = [e for e in events_feed(api, wallet=wallet) if e["type"] == "wallet.updated"]
    assert {k: v for k, v in event["data"].items() if k != "wallet"} == expected
    # Removing the maximum.
    assert api.patch_wallet(wallet, {"max_balance": None}).json()["max_balance"] is None


def test_a_change_replaces_the_metadata_and_its_answer_replays_as_it_was(api: Api) -> None:
    """The wallet's metadata is replaced whole by a change naming it (null removes it); its
    reference stays as made. A replay of any change's key answers the metadata right after that
    change, whatever changed since."""
    response = api.client.post(
        "/api/v1/wallets", {"reference": "customer-7", "metadata": {"tier": "bronze"}}, "application/json"
    )
    wallet = response.json()["id"]
    frozen = api.patch_wallet(wallet, {"status": "frozen"}, **{"Idempotency-Key": "freeze-1"})
    assert (frozen.json()["reference"], frozen.json()["metadata"]) == ("customer-7", {"tier": "bronze"})
    gold = api.patch_wallet(wallet, {"metadata": {"tier": "gold", "region": "eu"}}, **{"Idempotency-Key": "gold-1"})
    assert gold.status_code == 200, gold.content
    assert (gold.json()["metadata"], gold.json()["status"]) == ({"tier": "gold", "region": "eu"}, "frozen")
    assert shown(api, wallet) == gold.json()
    removed = api.patch_wallet(wallet, {"metadata": None})
    assert (removed.status_code, removed.json()["metadata"], removed.json()["reference"]) == (200, None, "customer-7")
    assert shown(api, wallet)["metadata"] is None
    for key, answer in (("freeze-1", frozen), ("gold-1", gold)):
        body = {"status": "frozen"} if key == "freeze-1" else {"metadata": {"region": "eu", "tier": "gold"}}
        again = api.patch_wallet(wallet, body, **{"Idempotency-Key": key})
        assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (200, answer.content, "true")
    other = api.patch_wallet(wallet, {"metadata": {"tier": "gold"}}, **{"Idempotency-Key": "gold-1"})
    assert (other.status_code, error_body(other)["code"]) == (422, "idempotency_key_reused")
    # The change is in the history (newest first), as asked; its event shows the wallet after it.
    changes = [row["change"] for row in history(api, wallet) if row["operationType"] == "WALLET_UPDATE"]
    assert changes == [{"metadata": None}, {"metadata": {"tier": "gold", "region": "eu"}}, {"status": "frozen"}]
    updated = [e["data"]["metadata"] for e in events_feed(api, wallet=wallet) if e["type"] == "wallet.updated"]
    assert updated == [{"tier": "bronze"}, {"tier": "gold", "region": "eu"}, None]


def test_a_frozen_wallet_answers_409_to_what_takes_money_and_still_takes_credits(api: Api) -> None:
    wallet, other = api.create_wallet(100), api.create_wallet(100)
    kept = api.post_hold(wallet, {"amount": "10.00"}).json()["hold_id"]
    captured = api.post_hold(wallet, {"amount": "5.00"}).json()["hold_id"]
    assert api.patch_wallet(wallet, {"status": "frozen"}).status_code == 200
    for refused in (
        api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "1.00"}),
        api.post_transfer(wallet, other, "1.00"),
        api.post_hold(wallet, {"amount": "1.00"}),
        api.hold_change(captured, "capture"),
    ):
        assert refusal(refused) == (409, "Wallet is frozen", "wallet_frozen")
    assert api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "2.00"}).status_code == 200
    assert api.post_transfer(other, wallet, "3.00").json()["state"] == "completed"
    assert api.hold_change(kept, "void").status_code == 200
    assert api.money(wallet) == (Decimal("105.00"), Decimal("100.00"), Decimal("5.00"))


@pytest.mark.parametrize("same_shard", [False, True], ids=["across", "within"])
def test_a_closed_wallet_is_409_to_every_write_and_stays_readable(
    api: Api, db: Engine, settings: Settings, same_shard: bool
) -> None:
    # A transfer to it reads the same whether one writer or two decide its legs.
    wallet, other = wallet_pair(api, settings.shard_count, 10, same_shard=same_shard)
    assert api.post_operation(other, {"operationType": "DEPOSIT", "amount": "10.00"}).status_code == 200
    not_empty = api.patch_wallet(wallet, {"status": "closed"})
    assert refusal(not_empty) == (409, "Wallet is not empty", "wallet_not_empty")
    assert api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "10.00"}).status_code == 200
    assert api.patch_wallet(wallet, {"status": "closed"}).json()["status"] == "closed"
    for refused in (
        api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "1.00"}),
        api.patch_wallet(wallet, {"status": "active"}),
    ):
        assert refusal(refused) == (409, "Wallet is closed", "wallet_closed")
    # Money sent to it comes back: the transfer fails, as for any credit its destination refuses.
    sent = api.post_transfer(other, wallet, "4.00")
    assert (sent.status_code, sent.json()["state"], sent.json()["error"]) == (400, "failed", "Wallet is closed")
    assert transfer(api, sent.json()["transfer_id"])["state"] == "failed"
    assert api.balance(other) == Decimal("10.00")
    assert shown(api, wallet)["status"] == "closed"
    assert [(row["operationType"], row["status"]) for row in history(api, wallet)] == [
        ("TRANSFER_IN", "rejected"),
        ("WALLET_UPDATE", "rejected"),
        ("DEPOSIT", "rejected"),
        ("WALLET_UPDATE", "applied"),  # closed
        ("WITHDRAW", "applied"),
        ("WALLET_UPDATE", "rejected"),  # not empty
        ("DEPOSIT", "applied"),
    ]


@pytest.mark.parametrize("same_shard", [False, True], ids=["across", "within"])
def test_a_transfer_past_the_destinations_maximum_fails_and_refunds_the_source(
    api: Api, settings: Settings, same_shard: bool
) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 100, same_shard=same_shard)
    assert api.patch_wallet(destination, {"max_balance": "50.00"}).status_code == 200
    assert api.post_transfer(source, destination, "50.00").json()["state"] == "completed"
    refused = api.post_transfer(source, destination, "0.01")
    assert (refused.json()["state"], refused.json()["error"]) == ("failed", "Balance limit exceeded")
    assert (api.balance(source), api.balance(destination)) == (Decimal("50.00"), Decimal("50.00"))


def test_another_tenants_key_finds_no_wallet_to_change_and_a_read_only_key_may_not(api: Api, db: Engine) -> None:
    wallet = api.create_wallet(5)
    theirs = Api(api_key(f"controls-{uuid.uuid4().hex[:10]}").secret)
    reader = Api(api_key(TEST_TENANT, Scope.READ).secret)  # of the wallet's own tenant
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one()
    for change in ({"status": "frozen"}, {"metadata": {"owner": "them"}}):
        assert theirs.patch_wallet(wallet, change).status_code == 404
        assert reader.patch_wallet(wallet, change).status_code == 403
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one() == before
    assert (shown(api, wallet)["status"], shown(api, wallet)["metadata"]) == (Controls().status.value, None)
