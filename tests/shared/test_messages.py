from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.errors import MalformedMessage
from shared.messages import WIRE_VERSION, OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus

REQUEST = OperationRequest(
    operation_id=uuid.uuid4(),
    wallet_id=uuid.uuid4(),
    operation_type=OperationType.WITHDRAW,
    amount=Decimal("12.30"),
    created_at=datetime(2026, 11, 24, 4, 33, 9, 123456, tzinfo=UTC),
    idempotency_key="key-1",
    reply_to=uuid.uuid4().hex,
)


def test_request_round_trips_through_json() -> None:
    wire = json.loads(json.dumps(REQUEST.to_wire()))
    assert wire["amount"] == "12.30"
    assert wire["v"] == WIRE_VERSION
    assert OperationRequest.from_wire(wire) == REQUEST


def test_result_round_trips() -> None:
    result = OperationResult(uuid.uuid4(), OperationStatus.REJECTED, Decimal("5.00"), "Insufficient funds")
    assert OperationResult.from_bytes(result.to_bytes()) == result
    assert json.loads(result.to_bytes())["balance_after"] == "5.00"


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": None},
        {"operation_id": "nope"},
        {"wallet_id": 5},
        {"operation_type": "STEAL"},
        {"amount": "0"},
        {"amount": "1.001"},
        {"amount": 5},
        {"created_at": "yesterday"},
        {"created_at": "2026-11-24T04:33:09"},
        {"idempotency_key": 42},
        {"reply_to": "wallets:inbox:x"},  # only an inbox's name: the worker makes the key
        {"reply_to": 7},
        {"counterparty_id": str(uuid.uuid4())},  # a withdrawal names no other wallet
        {"operation_type": "TRANSFER_IN"},  # a leg without its transfer
    ],
)
def test_malformed_requests_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(MalformedMessage):
        OperationRequest.from_wire({**REQUEST.to_wire(), **change})


def test_a_transfer_leg_round_trips_and_must_name_its_transfer() -> None:
    transfer_id = uuid.uuid4()
    debit = OperationRequest(
        operation_id=transfer_id,
        wallet_id=uuid.uuid4(),
        operation_type=OperationType.TRANSFER_OUT,
        amount=Decimal("1.00"),
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
        transfer_id=transfer_id,
        counterparty_id=uuid.uuid4(),
    )
    wire = json.loads(json.dumps(debit.to_wire()))
    assert OperationRequest.from_wire(wire) == debit
    for change in ({"transfer_id": str(uuid.uuid4())}, {"counterparty_id": None}, {"transfer_id": None}):
        with pytest.raises(MalformedMessage):
            OperationRequest.from_wire({**wire, **change})
    # A message written before transfers existed reads them as null.
    old = {k: v for k, v in REQUEST.to_wire().items() if k not in ("transfer_id", "counterparty_id")}
    assert OperationRequest.from_wire(old) == REQUEST


@pytest.mark.parametrize("raw", [[], "x", None, {"v": 1}])
def test_non_messages_are_refused(raw: object) -> None:
    with pytest.raises(MalformedMessage):
        OperationRequest.from_wire(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"v": 1, "operation_id": "x", "status": "applied"}'])
def test_malformed_results_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        OperationResult.from_bytes(raw)
