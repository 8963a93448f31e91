"""Searching the ledger: history filters and their cursors, a reference across the tenant's
wallets, and a wallet's money at an instant. Every answer is held against one computed here
from the ledger table itself."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, Row

from shared.operations import OperationType
from tests.support.api import Api, error_body
from tests.support.factories import api_key, ledger_rows

DEPOSIT, WITHDRAW = OperationType.DEPOSIT.value, OperationType.WITHDRAW.value


def pages(api: Api, path: str, params: dict[str, str], *, limit: int) -> list[dict[str, Any]]:
    """Every row of a paged list, following its cursors (sent alone, as a cursor keeps its filters)."""
    found: list[dict[str, Any]] = []
    response = api.client.get(f"{path}?{urlencode({**params, 'limit': str(limit)})}")
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) <= limit
        found.extend(body["results"])
        if body["next"] is None:
            return found
        response = api.client.get(f"{path}?{urlencode({'cursor': body['next'], 'limit': str(limit)})}")


def _passes(row: Row[Any], query: dict[str, str]) -> bool:
    """Whether a ledger row passes the filters of ``query``, as the API documents them."""
    for name, value in query.items():
        if name == "type" and row.operation_type != value:
            return False
        if name == "status" and row.status != value:
            return False
        if name == "created_after" and row.applied_at < datetime.fromisoformat(value):
            return False
        if name == "created_before" and row.applied_at >= datetime.fromisoformat(value):
            return False
        if name == "reference" and row.reference != value:
            return False
        if name.startswith("metadata[") and (row.metadata or {}).get(name[9:-1]) != value:
            return False
    return True


def test_every_filter_and_their_combinations_page_as_the_ledger_says(api: Api, db: Engine, busy_wallet: str) -> None:
    rows = ledger_rows(db, busy_wallet)
    assert len(rows) == 19
    middle = rows[len(rows) // 3].applied_at.isoformat()
    late = rows[2 * len(rows) // 3].applied_at.isoformat()
    queries: list[dict[str, str]] = [
        {},
        {"type": DEPOSIT},
        {"type": WITHDRAW, "status": "rejected"},
        {"status": "applied"},
        {"created_after": middle},
        {"created_before": middle},
        {"created_after": middle, "created_before": late},
        {"reference": "order-1"},
        {"reference": "order-3", "type": DEPOSIT},
        {"metadata[channel]": "web"},
        {"metadata[channel]": "shop", "metadata[batch]": "1"},
        {"metadata[channel]": "web", "created_after": middle, "status": "applied"},
        {"reference": "no-such-order"},
        {"type": "HOLD"},
    ]
    for query in queries:
        expected = [str(row.id) for row in reversed(rows) if _passes(row, query)]
        for limit in (1, 2, 5, 500):
            found = pages(api, f"/api/v1/wallets/{busy_wallet}/operations", query, limit=limit)
            assert [row["operation_id"] for row in found] == expected, (query, limit)
    assert any(_passes(row, {"created_after": middle}) for row in rows)
    assert any(not _passes(row, {"created_after": middle}) for row in rows)


def test_a_cursor_keeps_its_filters_and_pages_nothing_else(api: Api, busy_wallet: str) -> None:
    path = f"/api/v1/wallets/{busy_wallet}/operations"
    first = api.client.get(path, {"type": DEPOSIT, "limit": "2"}).json()
    cursor = first["next"]
    alone = api.client.get(path, {"cursor": cursor}).json()
    repeated = api.client.get(path, {"cursor": cursor, "type": DEPOSIT}).json()
    assert alone == repeated
    assert {row["operationType"] for row in alone["results"]} == {DEPOSIT}
    assert {row["operation_id"] for row in alone["results"]}.isdisjoint(r["operation_id"] for r in first["results"])

    other_wallet = api.create_wallet(1)
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for target, params in [
        (path, {"cursor": cursor, "type": WITHDRAW}),  # other filters
        (path, {"cursor": cursor, "status": "applied"}),  # more filters
        (f"/api/v1/wallets/{other_wallet}/operations", {"cursor": cursor}),  # another wallet
        (path, {"cursor": tampered}),
        (path, {"cursor": "not-a-cursor"}),
        (path, {"cursor": "x" * 5000}),
    ]:
        response = api.client.get(target, params)
        assert response.status_code == 400, params
        assert error_body(response) == {"error": "Invalid cursor", "code": "invalid_cursor"}


@pytest.mark.parametrize(
    ("query", "message", "code"),
    [
        ("type=NOPE", "Invalid filter: type must be one of DEPOSIT, WITHDRAW", "invalid_filter"),
        ("status=pending", "Invalid filter: status must be one of applied, rejected", "invalid_filter"),
        ("created_after=2026-01-01", "Invalid time: created_after must be", "invalid_time"),
        ("created_before=yesterday", "Invalid time: created_before must be", "invalid_time"),
        ("reference=" + "r" * 129, "Invalid filter: ", "invalid_filter"),
        ("metadata%5B" + "k" * 41 + "%5D=v", "Invalid filter: ", "invalid_filter"),
        ("metadata%5Bk%5D=" + "v" * 501, "Invalid filter: ", "invalid_filter"),
        ("metadata%5Ba%5Bb%5D%5D=v", "Unknown query parameters: metadata[a[b]]", "unknown_parameter"),
        ("typ=DEPOSIT", "Unknown query parameters: typ", "unknown_parameter"),
        ("type=DEPOSIT&type=WITHDRAW", "Unknown query parameters: type (each once", "unknown_parameter"),
    ],
)
def test_a_bad_filter_is_400_naming_it(api: Api, query: str, message: str, code: str) -> None:
    wallet = api.create_wallet()
    response = api.client.get(f"/api/v1/wallets/{wallet}/operations?{query}")
    assert response.status_code == 400
    body = error_body(response)
    assert body["error"].startswith(message), body
    assert body["code"] == code


def test_an_offset_whose_plus_was_not_encoded_is_read_as_one(api: Api) -> None:
    wallet = api.create_wallet(5)
    later = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    spelled = later.isoformat()  # ...+02:00, sent with its + unencoded (a space once decoded)
    assert "+02:00" in spelled
    before = api.client.get(f"/api/v1/wallets/{wallet}/operations?created_before={spelled}")
    after = api.client.get(f"/api/v1/wallets/{wallet}/operations?created_after={spelled}")
    assert [len(before.json()["results"]), len(after.json()["results"])] == [1, 0]


def test_a_reference_is_found_across_the_tenants_wallets_and_nowhere_else(api: Api) -> None:
    reference = f"invoice-{uuid.uuid4().hex[:8]}"
    first, second = api.create_wallet(), api.create_wallet(50)
    made = [
        api.post_operation(first, {"operationType": DEPOSIT, "amount": "1.00", "reference": reference}),
        api.post_operation(second, {"operationType": WITHDRAW, "amount": "2.00", "reference": reference}),
        api.post_operation(second, {"operationType": WITHDRAW, "amount": "999", "reference": reference}),  # refused
        api.post_operation(first, {"operationType": DEPOSIT, "amount": "3.00", "reference": reference + "-x"}),
    ]
    ids = [response.json().get("operation_id") for response in made[:2]]
    refused = api.client.get(f"/api/v1/wallets/{second}/operations", {"status": "rejected"}).json()["results"]
    expected = [refused[0]["operation_id"], ids[1], ids[0]]
    for limit in (1, 2, 10):
        found = pages(api, "/api/v1/operations", {"reference": reference}, limit=limit)
        assert [row["operation_id"] for row in found] == expected

    stranger = Api(api_key(f"other-{uuid.uuid4().hex[:8]}").secret)
    their_wallet = stranger.create_wallet()
    theirs = stranger.post_operation(their_wallet, {"operationType": DEPOSIT, "amount": "1", "reference": reference})
    assert theirs.status_code == 200
    assert [row["operation_id"] for row in pages(api, "/api/v1/operations", {"reference": reference}, limit=5)] == (
        expected
    )
    their_rows = stranger.client.get("/api/v1/operations", {"reference": reference}).json()["results"]
    assert [row["operation_id"] for row in their_rows] == [theirs.json()["operation_id"]]
    # Our cursor is not theirs to continue, nor one of another reference.
    cursor = api.client.get("/api/v1/operations", {"reference": reference, "limit": "1"}).json()["next"]
    for client, params in [
        (stranger, {"cursor": cursor}),
        (api, {"cursor": cursor, "reference": reference + "-x"}),
    ]:
        response = client.client.get("/api/v1/operations", params)
        assert response.status_code == 400
        assert error_body(response)["code"] == "invalid_cursor"
    missing = api.client.get("/api/v1/operations")
    assert missing.status_code == 400
    assert error_body(missing) == {"error": "Invalid filter: reference is required", "code": "invalid_filter"}


def _money_at(rows: list[Row[Any]], at: datetime) -> tuple[Decimal, Decimal, int | None]:
    """(balance, held, position) at ``at``, recomputed from the rows: every applied row's effect
    summed, and the held money after the last row."""
    balance, held, position = Decimal(0), Decimal(0), None
    for row in rows:
        if row.applied_at > at:
            break
        if row.status == "applied":
            balance += OperationType(row.operation_type).kind.balance_change(row.amount)
        held, position = row.held_after, row.seq
    return balance, held, position


def test_the_money_at_100_random_instants_is_what_the_ledger_says(api: Api, db: Engine, busy_wallet: str) -> None:
    source = api.create_wallet(30)
    assert api.post_transfer(source, busy_wallet, "6.00").status_code == 200
    assert api.post_hold(busy_wallet, {"amount": "2.00"}).status_code == 201
    rows = ledger_rows(db, busy_wallet)
    start, end = rows[0].applied_at - timedelta(milliseconds=1), rows[-1].applied_at + timedelta(milliseconds=5)
    chosen = random.Random(27)
    instants = [start + (end - start) * chosen.random() for _ in range(90)]
    instants += [row.applied_at for row in chosen.sample(rows, 10)]  # a row's own instant counts it
    for at in instants:
        response = api.client.get(f"/api/v1/wallets/{busy_wallet}", {"at": at.isoformat()})
        assert response.status_code == 200, response.content
        body = response.json()
        balance, held, position = _money_at(rows, at)
        assert (Decimal(body["balance"]), Decimal(body["held"]), body["position"]) == (balance, held, position), at
        assert Decimal(body["available"]) == balance - held
        assert body["at"] == at.astimezone(UTC).isoformat()
    assert {_money_at(rows, at)[2] for at in instants} != {None}


def test_the_money_at_an_instant_is_404_before_the_wallet_and_400_in_the_future(api: Api) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    wallet = api.create_wallet()
    response = api.client.get(f"/api/v1/wallets/{wallet}", {"at": before.isoformat()})
    assert response.status_code == 404
    assert error_body(response)["code"] == "wallet_not_found"
    empty = api.client.get(f"/api/v1/wallets/{wallet}", {"at": datetime.now(UTC).isoformat()}).json()
    assert (empty["balance"], empty["position"]) == ("0.00", None)
    future = api.client.get(f"/api/v1/wallets/{wallet}", {"at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})
    assert future.status_code == 400
    assert error_body(future) == {"error": "Invalid time: at is in the future", "code": "invalid_time"}
    unknown = api.client.get(f"/api/v1/wallets/{wallet}", {"when": "now"})
    assert unknown.status_code == 400
    stranger = Api(api_key(f"other-{uuid.uuid4().hex[:8]}").secret)
    hidden = stranger.client.get(f"/api/v1/wallets/{wallet}", {"at": datetime.now(UTC).isoformat()})
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    "read",
    [
        lambda client, wallet: client.get(f"/api/v1/wallets/{wallet}/operations", {"type": DEPOSIT}),
        lambda client, wallet: client.get(f"/api/v1/wallets/{wallet}", {"at": datetime.now(UTC).isoformat()}),
        lambda client, wallet: client.get(
            f"/api/v1/wallets/{wallet}/statement",
            {"from": "2026-01-01T00:00:00Z", "to": datetime.now(UTC).isoformat()},
        ),
    ],
    ids=["history", "at", "statement"],
)
def test_another_tenants_wallet_is_not_found_by_any_search(api: Api, read: Callable[..., Any]) -> None:
    wallet = api.create_wallet(3)
    stranger = Api(api_key(f"other-{uuid.uuid4().hex[:8]}").secret)
    response = read(stranger.client, wallet)
    assert response.status_code == 404
    assert json.loads(response.content)["code"] == "wallet_not_found"
    assert read(api.client, wallet).status_code == 200
