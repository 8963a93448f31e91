from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.errors import MalformedMessage
from shared.messages import WIRE_VERSION, OperationRequest, OperationResult, request_identity
from shared.operations import OperationType
from shared.outcomes import OperationStatus

REQUEST = OperationRequest(
    operation_id=uuid.uuid4(),
    wallet_id=uuid.uuid4(),
    operation_type=OperationType.WITHDRAW,
    amount=Decimal("12.30"),
    created_at=datetime(2026, 11, 24, 4, 33, 9, 123456, tzinfo=UTC),
    idempotency_key="key-1",
    currency="EUR",
    reply_to=uuid.uuid4().hex,
)
ANNOTATED = replace(REQUEST, reference="order-5521", metadata={"channel": "web", "note": "β"})


@pytest.mark.parametrize("request_", [REQUEST, ANNOTATED], ids=["plain", "annotated"])
def test_request_round_trips_through_json(request_: OperationRequest) -> None:
    wire = json.loads(json.dumps(request_.to_wire()))
    assert wire["amount"] == "12.30"
    assert wire["v"] == WIRE_VERSION
    assert OperationRequest.from_wire(wire) == request_


def test_a_request_without_a_reference_or_metadata_keeps_the_identity_it_had() -> None:
    # Fingerprints recorded before annotations existed still match their requests.
    assert request_identity(REQUEST) == "WITHDRAW|12.30"
    assert request_identity(ANNOTATED) == 'WITHDRAW|12.30|ref="order-5521"|meta={"channel":"web","note":"\\u03b2"}'


def test_result_round_trips() -> None:
    result = OperationResult(uuid.uuid4(), OperationStatus.REJECTED, Decimal("5.00"), "Insufficient funds")
    assert OperationResult.from_bytes(result.to_bytes()) == result
    assert Decimal(json.loads(result.to_bytes())["balance_after"]) == Decimal("5.00")


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": None},
        {"operation_id": "nope"},
        {"wallet_id": 5},
        {"operation_type": "STEAL"},
        {"amount": "0"},
        {"amount": "1.00001"},  # more decimals than any currency has
        {"currency": "XAU"},  # no minor unit: not a wallet's
        {"currency": "eur"},
        {"currency": 978},
        {"amount": 5},
        {"created_at": "yesterday"},
        {"created_at": "2026-11-24T04:33:09"},
        {"idempotency_key": 42},
        {"reply_to": "wallets:inbox:x"},  # only an inbox's name: the worker makes the key
        {"reply_to": 7},
        {"counterparty_id": str(uuid.uuid4())},  # a withdrawal names no other wallet
        {"operation_type": "TRANSFER_IN"},  # a leg without its transfer
        {"reference": ""},
        {"metadata": {"k": 1}},  # the web's rules hold on the wire too
    ],
)
def test_malformed_requests_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(MalformedMessage):
        OperationRequest.from_wire({**ANNOTATED.to_wire(), **change})


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


def test_a_message_of_before_currencies_reads_as_of_no_currency_with_the_same_identity() -> None:
    """Its wallet's is given by the writer (``worker.apply``); its Idempotency-Key's fingerprint,
    made before currencies with two decimals, still matches the same request made now."""
    old = {k: v for k, v in REQUEST.to_wire().items() if k != "currency"}
    old["amount"] = "12.30"
    read = OperationRequest.from_wire(old)
    assert read.currency is None
    assert request_identity(read) == request_identity(REQUEST) == "WITHDRAW|12.30"


def test_an_identity_shows_the_amount_with_its_currencys_decimals() -> None:
    """A request and the ledger row it became (amounts stored with four decimals) agree."""
    jpy = replace(REQUEST, amount=Decimal("1200"), currency="JPY")
    assert request_identity(jpy) == "WITHDRAW|1200"
    assert request_identity(replace(jpy, amount=Decimal("1200.0000"))) == "WITHDRAW|1200"
    kwd = replace(REQUEST, amount=Decimal("1.5"), currency="KWD")
    assert request_identity(kwd) == "WITHDRAW|1.500"


@pytest.mark.parametrize("raw", [[], "x", None, {"v": 1}])
def test_non_messages_are_refused(raw: object) -> None:
    with pytest.raises(MalformedMessage):
        OperationRequest.from_wire(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"v": 1, "operation_id": "x", "status": "applied"}'])
def test_malformed_results_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        OperationResult.from_bytes(raw)
