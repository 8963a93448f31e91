"""A write's reference and metadata through the API, decided by the real shard worker process:
kept on every row the write makes, shown wherever the row is, part of the request's identity
under an Idempotency-Key, refused at every rule's boundary before anything is queued."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from shared.config import Settings
from shared.tables import wallet_operations
from shared.transfers import credit_id
from tests.support.api import Api, error_body, events_feed, history, transfer, wallet_pair

ORDER = {"reference": "order-5521", "metadata": {"channel": "web", "customer": "c-88"}}
CAPTURED = {"reference": "shipment-12", "metadata": {"carrier": "post"}}


def operation(api: Api, operation_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/operations/{operation_id}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def annotated_of(body: dict[str, Any]) -> dict[str, Any]:
    return {"reference": body["reference"], "metadata": body["metadata"]}


def test_a_deposit_keeps_them_on_its_row_in_history_and_in_its_event(api: Api) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "10.00", **ORDER})
    assert response.status_code == 200, response.content
    deposit = response.json()["operation_id"]
    assert annotated_of(operation(api, deposit)) == ORDER
    assert [annotated_of(row) for row in history(api, wallet)] == [ORDER]
    [event] = [e for e in events_feed(api, wallet=wallet) if e["type"] == "operation.applied"]
    assert annotated_of(event["data"]) == ORDER


def test_a_transfer_across_shards_keeps_them_on_its_record_and_both_legs(api: Api, settings: Settings) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 20)
    body = {"from": source, "to": destination, "amount": "5.00", **ORDER}
    response = api.client.post("/api/v1/transfers", data=body, content_type="application/json")
    assert response.json()["state"] == "completed", response.content
    transfer_id = response.json()["transfer_id"]
    assert annotated_of(transfer(api, transfer_id)) == ORDER
    assert annotated_of(operation(api, transfer_id)) == ORDER  # the debit
    assert annotated_of(operation(api, str(credit_id(uuid.UUID(transfer_id))))) == ORDER
    [event] = [e for e in events_feed(api, wallet=source) if e["type"] == "transfer.completed"]
    assert annotated_of(event["data"]) == ORDER


def test_a_hold_keeps_its_own_and_its_capture_to_another_wallet_its_own(api: Api, settings: Settings) -> None:
    source, destination = wallet_pair(api, settings.shard_count, 30)
    made = api.post_hold(source, {"amount": "12.00", "to": destination, **ORDER})
    assert made.status_code == 201, made.content
    hold_id = made.json()["hold_id"]
    captured = api.hold_change(hold_id, "capture", {"amount": "10.00", **CAPTURED})
    assert captured.json()["transfer_state"] == "completed", captured.content
    shown = api.client.get(f"/api/v1/holds/{hold_id}").json()
    assert annotated_of(shown) == ORDER
    assert annotated_of(operation(api, hold_id)) == ORDER  # the HOLD row
    transfer_id = captured.json()["transfer_id"]
    assert annotated_of(transfer(api, transfer_id)) == CAPTURED
    assert [annotated_of(row) for row in history(api, destination)] == [CAPTURED]  # the credit
    voided = api.post_hold(source, {"amount": "1.00"}).json()["hold_id"]
    assert api.hold_change(voided, "void", {"reference": "cancelled"}).status_code == 200
    assert history(api, source)[0]["reference"] == "cancelled"


def test_a_wallet_and_a_reversal_keep_theirs(api: Api) -> None:
    response = api.client.post("/api/v1/wallets", data={**ORDER}, content_type="application/json")
    assert response.status_code == 201, response.content
    wallet = response.json()["id"]
    assert annotated_of(response.json()) == ORDER
    assert annotated_of(api.client.get(f"/api/v1/wallets/{wallet}").json()) == ORDER
    [created] = [e for e in events_feed(api, wallet=wallet) if e["type"] == "wallet.created"]
    assert annotated_of(created["data"]) == ORDER
    changed = api.patch_wallet(wallet, {"max_balance": "100.00"})
    assert annotated_of(changed.json()) == ORDER
    deposit = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "9.00"}).json()["operation_id"]
    reversed_ = api.post_reversal(f"operations/{deposit}", {"amount": "2.00", **CAPTURED})
    assert annotated_of(operation(api, reversed_.json()["operation_id"])) == CAPTURED


def test_one_key_with_other_annotations_is_422_and_the_same_replays_byte_for_byte(api: Api) -> None:
    wallet = api.create_wallet()
    body = {"operationType": "DEPOSIT", "amount": "3.00", **ORDER}
    first = api.post_operation(wallet, body, **{"Idempotency-Key": "annotated-1"})
    assert first.status_code == 200, first.content
    # Metadata in another key order is the same request.
    same = {**body, "metadata": dict(reversed(list(ORDER["metadata"].items())))}  # type: ignore[attr-defined]
    again = api.post_operation(wallet, same, **{"Idempotency-Key": "annotated-1"})
    assert (again.status_code, again.content, again["Idempotent-Replayed"]) == (200, first.content, "true")
    for other in (
        {**body, "reference": "order-5522"},
        {**body, "metadata": {"channel": "web"}},
        {k: v for k, v in body.items() if k != "metadata"},
        {k: v for k, v in body.items() if k not in ORDER},
    ):
        refused = api.post_operation(wallet, other, **{"Idempotency-Key": "annotated-1"})
        assert (refused.status_code, error_body(refused)["code"]) == (422, "idempotency_key_reused"), other
    assert len(history(api, wallet)) == 1


def _writes(api: Api, settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of every kind of write, each valid but for what a test adds."""
    source, destination = wallet_pair(api, settings.shard_count, 50)
    captured, voided = (api.post_hold(source, {"amount": "5.00"}).json()["hold_id"] for _ in range(2))
    deposit = api.post_operation(source, {"operationType": "DEPOSIT", "amount": "1.00"}).json()["operation_id"]
    transfer_id = api.post_transfer(source, destination, "1.00").json()["transfer_id"]
    return [
        ("post", "/api/v1/wallets", {}),
        ("post", f"/api/v1/wallets/{source}/operation", {"operationType": "DEPOSIT", "amount": "1.00"}),
        ("post", "/api/v1/transfers", {"from": source, "to": destination, "amount": "1.00"}),
        ("post", f"/api/v1/wallets/{source}/holds", {"amount": "1.00"}),
        ("post", f"/api/v1/holds/{captured}/capture", {}),
        ("post", f"/api/v1/holds/{voided}/void", {}),
        ("post", f"/api/v1/operations/{deposit}/reversal", {}),
        ("post", f"/api/v1/transfers/{transfer_id}/reversal", {}),
    ]


@pytest.mark.parametrize(
    ("annotated", "rule"),
    [
        ({"reference": ""}, "reference must be a string of 1 to 128 printable characters"),
        ({"reference": "r" * 129}, "reference must be a string of 1 to 128 printable characters"),
        ({"reference": "a\nb"}, "reference must be a string of 1 to 128 printable characters"),
        ({"metadata": {str(i): "v" for i in range(51)}}, "metadata may have at most 50 keys"),
        ({"metadata": {"k" * 41: "v"}}, "metadata keys must be 1 to 40 characters, without square brackets"),
        ({"metadata": {"a[b]": "v"}}, "metadata keys must be 1 to 40 characters, without square brackets"),
        ({"metadata": {"k": "v" * 501}}, "metadata values must be strings of at most 500 characters"),
        ({"metadata": {"k": 5}}, "metadata values must be strings of at most 500 characters"),
        ({"metadata": ["k"]}, "metadata must be a JSON object"),
    ],
)
def test_every_write_refuses_each_broken_rule_naming_it_and_queues_nothing(
    api: Api, db: Engine, settings: Settings, annotated: dict[str, Any], rule: str
) -> None:
    writes = _writes(api, settings)
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one()
    for method, path, body in writes:
        response = getattr(api.client, method)(path, data={**body, **annotated}, content_type="application/json")
        assert (response.status_code, error_body(response)) == (
            400,
            {"error": f"Invalid reference or metadata: {rule}", "code": "invalid_annotations"},
        ), path
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(wallet_operations)).scalar_one() == before


def test_every_write_takes_them_at_their_limits(api: Api, settings: Settings) -> None:
    full = {
        "reference": "r" * 128,
        "metadata": {f"{i:040d}": "v" * 500 for i in range(50)},
    }
    for method, path, body in _writes(api, settings):
        response = getattr(api.client, method)(path, data={**body, **full}, content_type="application/json")
        assert response.status_code in (200, 201), (path, response.content)
