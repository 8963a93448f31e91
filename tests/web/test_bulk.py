"""Bulk writes (``POST /api/v1/operations/bulk``) against the real worker: every operation answered
in order as a single one would be, a wallet's in the request's order, nothing queued for a bad
request, exactly once per Idempotency-Key."""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from sqlalchemy import Engine, func, select

from shared.config import Settings
from shared.sharding import shard_for
from shared.tables import wallet_operations
from tests.support.api import Api, error_body
from tests.support.factories import TEST_TENANT, api_key
from web.wallets.auth.api_keys import Scope
from web.wallets.inputs import BULK_MAX_BODY_BYTES, BULK_MAX_ITEMS, MAX_BODY_BYTES

DEPOSIT, WITHDRAW = "DEPOSIT", "WITHDRAW"


def item(wallet: str, kind: str = DEPOSIT, amount: str = "1.00", **more: Any) -> dict[str, Any]:
    return {"wallet_id": wallet, "operationType": kind, "amount": amount, **more}


def ledger_ids(db: Engine, wallet: str) -> list[str]:
    """A wallet's ledger rows' ids, in the order its writer decided them."""
    with db.connect() as conn:
        rows = conn.execute(
            select(wallet_operations.c.id)
            .where(wallet_operations.c.wallet_id == uuid.UUID(wallet))
            .order_by(wallet_operations.c.seq)
        )
        return [str(row[0]) for row in rows]


def ledger_count(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one())


def settled_results(api: Api, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``results``, each pending one replaced by what its status URL says once it is decided."""
    final = []
    for result in results:
        if result["status"] == "Pending":
            body = api.settled(result["location"])
            result = {"index": result["index"], "status": body["status"], "operation_id": body["operation_id"]}
        final.append(result)
    return final


def test_a_thousand_operations_over_every_shard_are_each_answered_in_order(
    api: Api, settings: Settings, db: Engine
) -> None:
    wallets: list[str] = []
    while len({shard_for(uuid.UUID(w), settings.shard_count) for w in wallets}) < settings.shard_count:
        wallets.append(api.create_wallet(10))
    rng = random.Random(27)
    plan = [
        item(rng.choice(wallets), rng.choice([DEPOSIT, WITHDRAW, WITHDRAW]), f"{rng.randint(1, 900) / 100:.2f}")
        for _ in range(BULK_MAX_ITEMS)
    ]
    response = api.post_bulk(plan)
    assert response.status_code == 200, response.content
    results = settled_results(api, response.json()["results"])
    assert [r["index"] for r in results] == list(range(BULK_MAX_ITEMS))
    # What each would be, applied one after another in the request's order, wallet by wallet.
    balance = dict.fromkeys(wallets, Decimal(10))
    for planned, result in zip(plan, results, strict=True):
        amount, wallet = Decimal(planned["amount"]), planned["wallet_id"]
        if planned["operationType"] == WITHDRAW and balance[wallet] < amount:
            assert (result["status"], result.get("error"), result.get("code")) in (
                ("Rejected", "Insufficient funds", "insufficient_funds"),
                ("rejected", None, None),  # settled from a 202: its status URL's own words
            )
            continue
        balance[wallet] += amount if planned["operationType"] == DEPOSIT else -amount
        assert result["status"] in ("Success", "applied")
        if result["status"] == "Success":
            assert (result["new_balance"], result["currency"]) == (f"{balance[wallet]:.2f}", "EUR")
    assert sum(r["status"] in ("Rejected", "rejected") for r in results) >= 10  # some ran out of funds
    for wallet in wallets:
        assert api.balance(wallet) == balance[wallet]
        ours = [r["operation_id"] for p, r in zip(plan, results, strict=True) if p["wallet_id"] == wallet]
        assert ledger_ids(db, wallet)[1:] == ours  # after its funding: in the request's order


def test_answers_are_those_of_single_operations(api: Api) -> None:
    wallet = api.create_wallet(5)
    jpy = api.create_wallet(currency="JPY")
    plan = [
        item(wallet, DEPOSIT, "2.50", reference="order-1", metadata={"channel": "bulk"}),
        item(wallet, WITHDRAW, "100.00"),
        item(jpy, DEPOSIT, "300"),
    ]
    results = api.post_bulk(plan).json()["results"]
    assert results[0] == {
        "index": 0,
        "status": "Success",
        "new_balance": "7.50",
        "currency": "EUR",
        "operation_id": results[0]["operation_id"],
    }
    assert results[1] == {
        "index": 1,
        "status": "Rejected",
        "operation_id": results[1]["operation_id"],
        "error": "Insufficient funds",
        "code": "insufficient_funds",
    }
    assert (results[2]["new_balance"], results[2]["currency"]) == ("300", "JPY")
    shown = api.client.get(f"/api/v1/operations/{results[0]['operation_id']}").json()
    assert (shown["reference"], shown["metadata"], shown["status"]) == ("order-1", {"channel": "bulk"}, "applied")
    refused = api.client.get(f"/api/v1/operations/{results[1]['operation_id']}").json()
    assert (refused["status"], refused["error"]) == ("rejected", "Insufficient funds")


GOOD = item("{wallet}")


@pytest.mark.parametrize(
    ("bad", "error", "code"),
    [
        (item("{wallet}", amount="-1"), "Invalid or missing amount", "invalid_amount"),
        (item("{wallet}", amount="1.001"), None, "invalid_amount"),
        (item("{wallet}", kind="HOLD"), "Invalid operationType", "invalid_operation_type"),
        (item("{wallet}", to="{wallet}"), None, "unknown_field"),
        (item("not-a-wallet"), 'Invalid or missing "wallet_id": a wallet id', "invalid_wallet_id"),
        ({"operationType": DEPOSIT, "amount": "1"}, 'Invalid or missing "wallet_id": a wallet id', "invalid_wallet_id"),
        (item(str(uuid.UUID(int=7))), "Wallet not found", "wallet_not_found"),
        (item("{wallet}", idempotency_key="has space"), None, "invalid_idempotency_key"),
        (item("{wallet}", idempotency_key=7), None, "invalid_idempotency_key"),
        (item("{wallet}", reference=""), None, "invalid_annotations"),
        (item("{wallet}", metadata={"k": 1}), None, "invalid_annotations"),
        ("DEPOSIT", None, "invalid_operations"),
        (item("{wallet}", idempotency_key="k-1"), "Duplicate idempotency_key for one wallet in one request", None),
    ],
)
def test_a_bad_operation_is_refused_by_its_index_and_nothing_is_queued(
    api: Api, db: Engine, bad: Any, error: str | None, code: str | None
) -> None:
    wallet = api.create_wallet(5)
    fill = json.loads(json.dumps(bad).replace("{wallet}", wallet))
    plan = [item(wallet, idempotency_key=f"k-{i}") for i in range(5)] + [fill] + [item(wallet) for _ in range(3)]
    before = ledger_count(db)
    response = api.post_bulk(plan)
    assert response.status_code == 400, response.content
    body = error_body(response)
    assert body["index"] == 5
    if error is not None:
        assert body["error"] == error
    if code is not None:
        assert body["code"] == code
    # Had anything been queued, the worker would apply it before this later operation.
    assert api.post_operation(wallet, {"operationType": DEPOSIT, "amount": "1.00"}).status_code == 200
    assert ledger_count(db) == before + 1
    assert api.balance(wallet) == Decimal("6.00")


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({}, 'Invalid "operations": a list of 1 to 1000 operations', "invalid_operations"),
        ({"operations": []}, None, "invalid_operations"),
        ({"operations": {"0": {}}}, None, "invalid_operations"),
        ({"operations": [item("{wallet}")] * (BULK_MAX_ITEMS + 1)}, None, "invalid_operations"),
        ({"operations": [item("{wallet}")], "atomic": True}, None, "unknown_field"),
        (b"[]", "Request body must be a JSON object", "body_not_object"),
        (b"{", "Malformed JSON body", "malformed_json"),
    ],
)
def test_a_bad_bulk_request_is_refused_whole(
    api: Api, db: Engine, body: Any, error: str | None, code: str | None
) -> None:
    wallet = api.create_wallet()
    data = body if isinstance(body, bytes) else json.loads(json.dumps(body).replace("{wallet}", wallet))
    before = ledger_count(db)
    response = api.post_bulk(data)
    assert response.status_code == 400, response.content
    found = error_body(response)
    assert "index" not in found
    assert found["code"] == code
    if error is not None:
        assert found["error"] == error
    assert ledger_count(db) == before


def test_the_idempotency_key_goes_with_each_operation_not_in_the_header(api: Api) -> None:
    wallet = api.create_wallet()
    refused = api.post_bulk([item(wallet)], **{"Idempotency-Key": "whole"})
    assert (refused.status_code, error_body(refused)["code"]) == (400, "bulk_idempotency_key_header")
    assert api.balance(wallet) == 0


def test_a_body_has_a_limit_of_its_own(api: Api, db: Engine) -> None:
    wallet = api.create_wallet()
    # Larger than any other request may send: each operation with metadata near its limits.
    metadata = {f"k{n}": "v" * 400 for n in range(12)}
    plan = [item(wallet, "DEPOSIT", "0.01", metadata=metadata) for _ in range(60)]
    body = json.dumps({"operations": plan}).encode()
    assert MAX_BODY_BYTES < len(body) < BULK_MAX_BODY_BYTES
    response = api.post_bulk(body)
    assert response.status_code == 200, response.content
    assert api.balance(wallet) == Decimal("0.60")
    too_large = api.post_bulk(b'{"operations": [], "pad": "' + b"x" * BULK_MAX_BODY_BYTES + b'"}')
    assert (too_large.status_code, error_body(too_large)["code"]) == (400, "body_too_large")
    text = api.client.post("/api/v1/operations/bulk", data=body, content_type="text/plain")
    assert text.status_code == 415


def test_each_operation_replays_its_own_idempotency_key_as_the_header_does(api: Api, db: Engine) -> None:
    wallet, other = api.create_wallet(10), api.create_wallet()
    single = api.post_operation(wallet, {"operationType": WITHDRAW, "amount": "4.00"}, **{"Idempotency-Key": "w-1"})
    assert single.status_code == 200
    plan = [
        item(wallet, WITHDRAW, "4.00", idempotency_key="w-1"),  # the single one's key: its answer
        item(wallet, DEPOSIT, "1.00", idempotency_key="d-1"),
        item(other, DEPOSIT, "1.00", idempotency_key="d-1"),  # a key is a wallet's: another wallet's is its own
        item(wallet, DEPOSIT, "2.00"),
    ]
    first = api.post_bulk(plan).json()["results"]
    assert first[0] == {**single.json(), "index": 0, "replayed": True}
    assert [r["status"] for r in first] == ["Success"] * 4
    assert "replayed" not in first[1]
    before = ledger_count(db)
    again = api.post_bulk(plan).json()["results"]
    # The keyed ones replay; the one without a key is a new operation.
    assert again[:3] == [{**r, "replayed": True} for r in first[:3]]
    assert again[3]["operation_id"] != first[3]["operation_id"]
    assert ledger_count(db) == before + 1
    changed = [item(wallet, DEPOSIT, "9.00", idempotency_key="d-1"), item(wallet, DEPOSIT, "1.00")]
    results = api.post_bulk(changed).json()["results"]
    assert results[0] == {
        "index": 0,
        "status": "Rejected",
        "error": "Idempotency-Key was already used with a different request",
        "code": "idempotency_key_reused",
    }
    assert results[1]["status"] == "Success"
    header = api.post_operation(wallet, {"operationType": DEPOSIT, "amount": "1.00"}, **{"Idempotency-Key": "d-1"})
    assert (header.json()["operation_id"], header["Idempotent-Replayed"]) == (first[1]["operation_id"], "true")
    assert api.balance(wallet) == Decimal("12.00")  # 10 - 4 + 1 + 2, then 2 and 1 without keys


def test_another_tenants_wallet_is_not_found_and_a_read_only_key_may_not(api: Api, db: Engine) -> None:
    wallet = api.create_wallet(5)
    theirs = Api(api_key(f"bulk-{uuid.uuid4().hex[:10]}").secret)
    their_wallet = theirs.create_wallet()
    refused = theirs.post_bulk([item(their_wallet), item(wallet)])
    assert refused.status_code == 400
    assert (error_body(refused)["index"], error_body(refused)["code"]) == (1, "wallet_not_found")
    reader = Api(api_key(TEST_TENANT, Scope.READ).secret)
    assert reader.post_bulk([item(wallet)]).status_code == 403
    assert (api.balance(wallet), theirs.balance(their_wallet)) == (Decimal(5), Decimal(0))


def test_the_rate_limits_count_every_operation(capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "apikey",
        "create",
        "--tenant",
        TEST_TENANT,
        "--rate-limit-writes",
        "10/minute",
        "--rate-limit-idempotency-keys",
        "3/minute",
    )
    limited = Api(capsys.readouterr().out.strip().splitlines()[-1])
    wallet = limited.create_wallet()
    over = limited.post_bulk([item(wallet)] * 11)
    assert over.status_code == 400
    assert error_body(over) == {
        "error": "More than a rate limit allows in one request: 11 operations in one request,"
        " this key's rate is 10 per minute",
        "code": "over_rate_limit_at_once",
    }
    keyed = [item(wallet, idempotency_key=f"r-{n}") for n in range(4)]
    assert limited.post_bulk(keyed).status_code == 400  # 4 keyed requests: over 3 per minute
    assert limited.post_bulk(keyed[:3] + [item(wallet)] * 3).status_code == 200
    assert limited.post_bulk([item(wallet)] * 4).status_code == 200
    refused = limited.post_bulk([item(wallet)])  # the eleventh operation this minute
    assert refused.status_code == 429
    assert error_body(refused)["error"] == "Rate limit of 10 operations per minute exceeded"
    assert limited.balance(wallet) == Decimal("10.00")
