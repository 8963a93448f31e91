"""The events feed (``GET /api/v1/events``) after real money movements, decided by the real
shard worker process: one event per movement, of the right type, with the API's resource as
its data; and the feed's cursors, filters and tenancy."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine

from deploy.processes import wait_until
from shared.config import Settings
from shared.events import EventType
from shared.wallet_controls import Controls
from tests.support.api import NO_ANNOTATIONS, Api, error_body, events_feed, wallet_pair, without_strays
from tests.support.events import event_subject, events_expected
from tests.support.factories import api_key


def tenant_api() -> Api:
    """A client of a tenant of its own (a feed no other test writes to)."""
    return Api(api_key(f"events-{uuid.uuid4().hex[:10]}").secret)


def read(api: Api, path: str) -> dict[str, Any]:
    response = api.client.get(path)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_every_movement_is_one_event_with_the_resource_as_the_api_shows_it(settings: Settings, db: Engine) -> None:
    api = tenant_api()
    source, destination = wallet_pair(api, settings.shard_count, 100)
    refused = api.post_operation(source, {"operationType": "WITHDRAW", "amount": "1000.00"})
    assert refused.status_code == 400
    moved = api.post_transfer(source, destination, "10.00").json()
    failed = api.post_transfer(source, destination, "500.00").json()
    assert (moved["state"], failed["error"]) == ("completed", "Insufficient funds"), failed
    captured = api.post_hold(source, {"amount": "20.00", "to": destination}).json()["hold_id"]
    assert api.hold_change(captured, "capture", {"amount": "5.00"}).status_code == 200
    voided = api.post_hold(source, {"amount": "3.00"}).json()["hold_id"]
    assert api.hold_change(voided, "void").status_code == 200
    expiring = api.post_hold(source, {"amount": "4.00", "expires_in": 1}).json()["hold_id"]
    wait_until(
        lambda: any(e["type"] == "hold.expired" for e in events_feed(api)),
        timeout=15,
        what="the worker expiring the hold",
    )

    events = without_strays(events_feed(api), (source, destination))
    assert len({e["id"] for e in events}) == len(events)
    assert Counter(e["type"] for e in events) == {
        "wallet.created": 2,
        "operation.applied": 1,  # the source's funding deposit
        "operation.rejected": 1,
        "transfer.completed": 2,  # the transfer, and the capture to the destination
        "transfer.failed": 1,
        "hold.created": 3,
        "hold.captured": 1,
        "hold.voided": 1,
        "hold.expired": 1,
    }
    ledger = {row["position"]: row for wallet in (source, destination) for row in history_all(api, wallet)}
    for event in events:
        data = dict(event["data"])
        if event["type"] == "wallet.created":
            money = {k: "0.00" for k in ("balance", "available", "held")}
            made = {"id": data["id"], "currency": "EUR", **money, **Controls().to_json("EUR"), **NO_ANNOTATIONS}
            assert data == made
            continue
        wallet = data.pop("wallet")
        row = ledger[wallet["position"]]  # the ledger row that is this event
        assert wallet == {
            "id": row["wallet_id"],
            "currency": row["currency"],
            "balance": row["balance_after"],
            "available": row["available_after"],
            "held": row["held_after"],
            "position": row["position"],
        }
        assert event["created"] == row["applied_at"]
        resource = EventType(event["type"]).resource.value
        now = read(api, _PATHS[resource].format(**data))
        if event["type"] == "hold.created":  # the hold as it was made, since captured, voided or expired
            assert data["state"] == "active"
            assert {k: v for k, v in data.items() if k in _HOLD_FIXED} == {k: now[k] for k in _HOLD_FIXED}
        else:  # an operation, or a transfer or a hold at its end: as GET shows it still (but what
            # its reversals, later, add to its status)
            assert data == {k: v for k, v in now.items() if k != "reversed_amount"}, event["type"]
    subjects = {event_subject(e) for e in events if e["type"] != "wallet.created"}
    assert subjects == events_expected(db, [source, destination])
    assert {(e["data"]["hold_id"]) for e in events if e["type"] == "hold.created"} == {captured, voided, expiring}


_PATHS = {
    "operation": "/api/v1/operations/{operation_id}",
    "transfer": "/api/v1/transfers/{transfer_id}",
    "hold": "/api/v1/holds/{hold_id}",
}
_HOLD_FIXED = ("hold_id", "wallet_id", "to", "amount", "currency", "expires_at", "created_at")


def history_all(api: Api, wallet: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = read(api, f"/api/v1/wallets/{wallet}/operations?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        rows += body["results"]
        cursor = body["next"]
        if cursor is None:
            return rows


def test_the_feed_pages_oldest_first_and_filters_by_type_and_wallet(settings: Settings) -> None:
    api = tenant_api()
    source, destination = wallet_pair(api, settings.shard_count, 50)
    other = api.create_wallet(7)
    moved = api.post_transfer(source, destination, "5.00").json()
    everything = events_feed(api)
    assert [e["type"] for e in everything][-1] == "transfer.completed"
    # Pages of one, each starting where the last ended, make the whole feed.
    assert events_feed(api, limit="1") == everything
    first = api.client.get("/api/v1/events", {"limit": "2"}).json()
    assert (len(first["results"]), first["has_more"]) == (2, True)
    rest = api.client.get("/api/v1/events", {"after": first["next"]}).json()
    assert first["results"] + rest["results"] == everything
    # At the end, ``next`` is where to ask again, and a new event comes after it.
    assert (rest["has_more"], rest["next"]) == (False, rest["next"])
    api.post_operation(other, {"operationType": "DEPOSIT", "amount": "1.00"})
    later = api.client.get("/api/v1/events", {"after": rest["next"]}).json()["results"]
    assert [(e["type"], e["data"]["wallet_id"]) for e in later] == [("operation.applied", other)]

    assert [e["data"]["transfer_id"] for e in events_feed(api, type="transfer.completed")] == [moved["transfer_id"]]
    # A wallet's feed holds the transfers it received as well as its own events.
    assert [e["type"] for e in events_feed(api, wallet=destination)] == ["wallet.created", "transfer.completed"]
    assert {e["data"].get("wallet_id", e["data"].get("id")) for e in events_feed(api, wallet=other)} == {other}


@pytest.mark.parametrize(
    ("params", "status", "message", "code"),
    [
        ({"after": "not-a-cursor"}, 400, "Invalid cursor", "invalid_cursor"),
        ({"type": "money.vanished"}, 400, None, "invalid_event_type"),
        ({"wallet": "nope"}, 400, 'Invalid "wallet": a wallet id', "invalid_wallet"),
        ({"wallet": str(uuid.uuid4())}, 404, "Wallet not found", "wallet_not_found"),
        ({"limit": "0"}, 400, None, "invalid_limit"),
    ],
)
def test_a_bad_query_is_a_clear_error(params: dict[str, str], status: int, message: str | None, code: str) -> None:
    response = tenant_api().client.get("/api/v1/events", params)
    body = error_body(response)
    assert (response.status_code, body["code"]) == (status, code)
    if message is not None:
        assert body["error"] == message
    if code == "invalid_event_type":
        assert "money.vanished" in body["error"]
        assert "hold.expired" in body["error"]


def test_a_tenant_sees_only_its_own_events() -> None:
    ours, theirs = tenant_api(), tenant_api()
    wallet = ours.create_wallet(3)
    assert events_feed(theirs) == []
    response = theirs.client.get("/api/v1/events", {"wallet": wallet})
    assert (response.status_code, error_body(response)["code"]) == (404, "wallet_not_found")
    assert [e["type"] for e in events_feed(ours)] == ["wallet.created", "operation.applied"]
    # A cursor of another tenant's feed is only a position: it shows nothing of theirs.
    cursor = ours.client.get("/api/v1/events", {"limit": "1"}).json()["next"]
    assert theirs.client.get("/api/v1/events", {"after": cursor}).json()["results"] == []
