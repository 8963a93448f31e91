"""Reversals through the API (``POST /api/v1/operations/<id>/reversal``,
``POST /api/v1/transfers/<id>/reversal``), decided by the real shard worker process."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from shared.config import Settings
from shared.tables import wallet_operations
from tests.support.api import Api, error_body, events_feed, history, transfer, wallet_pair
from tests.support.factories import TEST_TENANT, api_key
from web.wallets.auth.api_keys import Scope

TOO_LARGE = {"error": "Reversal exceeds the amount left to reverse", "code": "reversal_exceeds_original"}
NOT_REVERSIBLE = {"error": "Operation cannot be reversed", "code": "not_reversible"}


def operation(api: Api, operation_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/operations/{operation_id}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def posted(api: Api, wallet: str, kind: str, amount: str) -> str:
    response = api.post_operation(wallet, {"operationType": kind, "amount": amount})
    assert response.status_code == 200, response.content
    operation_id: str = response.json()["operation_id"]
    return operation_id


def test_a_deposit_is_reversed_in_parts_then_the_rest_and_never_past_it(api: Api) -> None:
    wallet = api.create_wallet()
    deposit = posted(api, wallet, "DEPOSIT", "100.00")
    assert operation(api, deposit)["reversed_amount"] == "0.00"
    first = api.post_reversal(f"operations/{deposit}", {"amount": "30.00"})
    assert first.status_code == 200, first.content
    assert first.json() == {
        "status": "Success",
        "new_balance": "70.00",
        "currency": "EUR",
        "operation_id": first.json()["operation_id"],
    }
    assert operation(api, deposit)["reversed_amount"] == "30.00"
    assert api.post_reversal(f"operations/{deposit}", {"amount": "70.01"}).json() == TOO_LARGE
    rest = api.post_reversal(f"operations/{deposit}")  # no body: all that is left
    assert (rest.status_code, rest.json()["new_balance"]) == (200, "0.00")
    refused = api.post_reversal(f"operations/{deposit}", {})
    assert (refused.status_code, error_body(refused)) == (400, TOO_LARGE)
    rows = history(api, wallet)
    assert [(r["operationType"], r["amount"], r["status"], r["reversal_of"]) for r in rows] == [
        ("REVERSE_DEPOSIT", "70.00", "applied", deposit),
        ("REVERSE_DEPOSIT", "70.01", "rejected", deposit),
        ("REVERSE_DEPOSIT", "30.00", "applied", deposit),
        ("DEPOSIT", "100.00", "applied", None),
    ]
    reversal = operation(api, first.json()["operation_id"])
    assert (reversal["operationType"], reversal["reversal_of"], "reversed_amount" in reversal) == (
        "REVERSE_DEPOSIT",
        deposit,
        False,
    )


def test_a_withdrawal_reversal_puts_the_money_back(api: Api) -> None:
    wallet = api.create_wallet("50.00")
    withdrawal = posted(api, wallet, "WITHDRAW", "20.00")
    response = api.post_reversal(f"operations/{withdrawal}", {"amount": "5.00"})
    assert (response.status_code, response.json()["new_balance"]) == (200, "35.00")
    assert operation(api, withdrawal)["reversed_amount"] == "5.00"


def test_a_keyed_reversal_replays_its_answer_and_refuses_another_request(api: Api) -> None:
    wallet = api.create_wallet()
    deposit = posted(api, wallet, "DEPOSIT", "10.00")
    first = api.post_reversal(f"operations/{deposit}", {}, **{"Idempotency-Key": "back-1"})
    assert (first.status_code, first.json()["new_balance"]) == (200, "0.00")
    # The same request, all that was left when it was first asked: its answer, byte for byte.
    again = api.post_reversal(f"operations/{deposit}", {}, **{"Idempotency-Key": "back-1"})
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (200, first.content, "true")
    explicit = api.post_reversal(f"operations/{deposit}", {"amount": "10.00"}, **{"Idempotency-Key": "back-1"})
    assert explicit.content == first.content
    other = api.post_reversal(f"operations/{deposit}", {"amount": "1.00"}, **{"Idempotency-Key": "back-1"})
    assert other.status_code == 422
    assert api.money(wallet)[0] == 0


def test_what_cannot_be_reversed_is_refused_before_anything_is_queued(api: Api, db: Engine) -> None:
    wallet = api.create_wallet("10.00")
    deposit = posted(api, wallet, "DEPOSIT", "5.00")
    reversal = api.post_reversal(f"operations/{deposit}", {"amount": "1.00"}).json()["operation_id"]
    rejected = api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "999.00"})
    assert rejected.status_code == 400
    [rejected_row] = [r for r in history(api, wallet) if r["status"] == "rejected"]
    hold = api.post_hold(wallet, {"amount": "1.00"}).json()["hold_id"]
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one()
    cases = [
        (f"operations/{reversal}", {}, 400, NOT_REVERSIBLE),  # a reversal of a reversal
        (f"operations/{hold}", {}, 400, NOT_REVERSIBLE),
        (
            f"operations/{rejected_row['operation_id']}",
            {},
            409,
            {"error": "Operation is not applied", "code": "operation_not_applied"},
        ),
        (f"operations/{uuid.uuid4()}", {}, 404, {"error": "Operation not found", "code": "operation_not_found"}),
        ("operations/not-an-id", {}, 404, {"error": "Operation not found", "code": "operation_not_found"}),
        (
            f"operations/{deposit}",
            {"amount": "1.001"},
            400,
            {"error": "Invalid or missing amount: EUR amounts have at most 2 decimals", "code": "invalid_amount"},
        ),
        (
            f"operations/{deposit}",
            {"amount": None},
            400,
            {"error": "Invalid or missing amount", "code": "invalid_amount"},
        ),
        (f"transfers/{deposit}", {}, 404, {"error": "Transfer not found", "code": "transfer_not_found"}),
    ]
    for path, body, status, error in cases:
        response = api.post_reversal(path, body)
        assert (response.status_code, error_body(response)) == (status, error), path
    unknown = api.post_reversal(f"operations/{deposit}", {"amount": "1.00", "reason": "fraud"})
    assert (unknown.status_code, error_body(unknown)["code"]) == (400, "unknown_field")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one() == before


def test_a_transfer_is_sent_back_across_shards_in_parts_and_never_past_it(api: Api, settings: Settings) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 100)
    response = api.post_transfer(source, destination, "60.00")
    assert response.status_code == 200, response.content
    original = response.json()["transfer_id"]
    assert transfer(api, original)["reversed_amount"] == "0.00"
    back = api.post_reversal(f"transfers/{original}", {"amount": "25.00"})
    assert back.status_code == 200, back.content
    answer = back.json()
    assert answer == {
        "status": "Success",
        "transfer_id": answer["transfer_id"],
        "state": "completed",
        "currency": "EUR",
        "from_balance": "35.00",  # the original's destination
        "to_balance": "65.00",
    }
    reversing = transfer(api, answer["transfer_id"])
    assert (reversing["from"], reversing["to"], reversing["reversal_of"], "reversed_amount" in reversing) == (
        destination,
        source,
        original,
        False,
    )
    assert transfer(api, original)["reversed_amount"] == "25.00"
    assert [r["reversal_of"] for r in history(api, source)[:1] + history(api, destination)[:1]] == [original] * 2
    # A reversal is not reversed; the rest, then nothing more.
    assert error_body(api.post_reversal(f"transfers/{answer['transfer_id']}")) == NOT_REVERSIBLE
    rest = api.post_reversal(f"transfers/{original}")
    assert (rest.status_code, rest.json()["from_balance"], rest.json()["to_balance"]) == (200, "0.00", "100.00")
    assert api.post_reversal(f"transfers/{original}", {"amount": "0.01"}).json() == TOO_LARGE  # the writer's


def test_a_transfer_reversal_is_refused_when_the_destination_cannot_pay(api: Api, settings: Settings) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 100)
    original = api.post_transfer(source, destination, "40.00").json()["transfer_id"]
    posted(api, destination, "WITHDRAW", "30.00")
    spent = api.post_reversal(f"transfers/{original}", {"amount": "10.01"})
    assert (spent.status_code, spent.json()["code"]) == (400, "insufficient_funds")
    assert api.patch_wallet(destination, {"status": "frozen"}).status_code == 200
    frozen = api.post_reversal(f"transfers/{original}", {"amount": "1.00"})
    assert (frozen.status_code, frozen.json()["code"]) == (409, "wallet_frozen")
    assert api.patch_wallet(destination, {"status": "active"}).status_code == 200
    assert api.post_reversal(f"transfers/{original}", {"amount": "10.00"}).status_code == 200
    assert (api.balance(source), api.balance(destination)) == (Decimal(70), Decimal(0))
    assert transfer(api, original)["reversed_amount"] == "10.00"


def test_a_reversal_is_an_event_naming_what_it_reverses(api: Api) -> None:
    wallet = api.create_wallet()
    deposit = posted(api, wallet, "DEPOSIT", "10.00")
    reversal = api.post_reversal(f"operations/{deposit}", {"amount": "4.00"}).json()["operation_id"]
    [event] = [e for e in events_feed(api, wallet=wallet) if e["data"].get("operation_id") == reversal]
    assert (event["type"], event["data"]["operationType"], event["data"]["reversal_of"]) == (
        "operation.applied",
        "REVERSE_DEPOSIT",
        deposit,
    )
    assert event["data"]["wallet"]["balance"] == "6.00"


@pytest.mark.parametrize("of", ["operations", "transfers"])
def test_another_tenants_key_finds_nothing_to_reverse_and_a_read_only_key_may_not(
    api: Api, db: Engine, settings: Settings, of: str
) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 10)
    if of == "operations":
        target = posted(api, source, "DEPOSIT", "5.00")
    else:
        target = api.post_transfer(source, destination, "5.00").json()["transfer_id"]
    theirs = Api(api_key(f"reversals-{uuid.uuid4().hex[:10]}").secret)
    reader = Api(api_key(TEST_TENANT, Scope.READ).secret)  # of the wallets' own tenant
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one()
    assert theirs.post_reversal(f"{of}/{target}", {"amount": "1.00"}).status_code == 404
    assert theirs.post_reversal(f"{of}/{target}").status_code == 404
    assert reader.post_reversal(f"{of}/{target}", {"amount": "1.00"}).status_code == 403
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one() == before
