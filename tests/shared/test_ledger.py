"""One definition of a ledger row (``shared.ledger``), held to ``shared.tables``."""

from __future__ import annotations

import json
import uuid
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from shared.ledger import (
    LEDGER_COLUMNS,
    LEDGER_INSERTED,
    PENDING_COLUMNS,
    LedgerRecord,
    ledger_columns,
    ledger_row,
    pending_values,
    request_from_pending,
)
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.tables import pending_operations, wallet_operations
from shared.wallet_controls import WalletChange, WalletStatus

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def test_the_record_has_every_column_in_order() -> None:
    assert [f.name for f in fields(LedgerRecord)] == list(LEDGER_COLUMNS) == list(wallet_operations.columns.keys())


def test_a_ledger_row_fills_every_column_the_database_does_not() -> None:
    request = OperationRequest(uuid.uuid4(), uuid.uuid4(), OperationType.DEPOSIT, Decimal("1.00"), NOW)
    result = OperationResult(request.operation_id, OperationStatus.APPLIED, Decimal("1.00"))
    row = ledger_row(
        request, result, balance_after=Decimal("1.00"), held_after=Decimal(0), hold_id=None, currency="EUR"
    )
    assert set(row) == {"id", "wallet_id", "operation_type", "amount", "status", "error", "balance_after"} | {
        "idempotency_key",
        "api_key_id",
        "transfer_id",
        "counterparty_id",
        "hold_id",
        "held_after",
        "expires_at",
        "created_at",
        "currency",
        "change",
        "reversal_of",
        "reference",
        "metadata",
    }
    defaulted = {"seq", "applied_at"}  # by the database
    assert set(row) == set(wallet_operations.columns.keys()) - defaulted
    assert set(row) == set(LEDGER_INSERTED)  # the batch insert takes every one of them
    assert row["operation_type"] == "DEPOSIT"
    assert type(row["operation_type"]) is str


def test_a_record_read_by_a_plain_driver() -> None:
    operation_id, wallet = uuid.uuid4(), uuid.uuid4()
    values = dict.fromkeys(LEDGER_COLUMNS)
    values.update(
        id=str(operation_id),
        seq=7,
        wallet_id=str(wallet),
        operation_type="WITHDRAW",
        amount=Decimal("2.00"),
        status="applied",
        balance_after=Decimal("3.00"),
        held_after=Decimal(0),
        created_at=NOW,
        applied_at=NOW,
    )
    record = LedgerRecord.from_values(tuple(values.values()))
    assert record.id == operation_id
    assert record.wallet_id == wallet
    assert record.operation_type is OperationType.WITHDRAW
    assert record.transfer_id is None
    assert record.seq == 7


def test_a_pending_record_round_trips_to_its_request() -> None:
    hold = uuid.uuid4()
    capture = OperationRequest(
        uuid.uuid4(),
        uuid.uuid4(),
        OperationType.HOLD_CAPTURE,
        Decimal("1.50"),
        NOW,
        idempotency_key="k",
        api_key_id=uuid.uuid4(),
        counterparty_id=uuid.uuid4(),
        hold_id=hold,
        reference="order-1",
        metadata={"channel": "web"},
    )
    capture = OperationRequest(
        **{**{f.name: getattr(capture, f.name) for f in fields(capture)}, "transfer_id": capture.operation_id}
    )
    assert set(PENDING_COLUMNS) <= set(pending_operations.columns.keys())
    assert "transfer_id" not in PENDING_COLUMNS  # derived: only a transfer's debit is recorded
    stored = dict(zip(PENDING_COLUMNS, pending_values(capture), strict=True))
    assert stored["operation_type"] == "HOLD_CAPTURE"
    assert stored["hold_id"] == str(hold)
    assert stored["metadata"] == '{"channel":"web"}'  # JSON text for the driver; read back as text or a mapping
    row = SimpleNamespace(**{c: uuid.UUID(v) if c.endswith("id") and v else v for c, v in stored.items()})
    assert request_from_pending(row) == capture
    hold_request = OperationRequest(
        hold, uuid.uuid4(), OperationType.HOLD, Decimal("1.00"), NOW, hold_id=hold, expires_at=NOW + timedelta(1)
    )
    row = SimpleNamespace(**{c: getattr(hold_request, "operation_id" if c == "id" else c) for c in PENDING_COLUMNS})
    assert request_from_pending(row) == hold_request


def test_a_wallet_update_keeps_its_change_through_the_ledger_and_a_pending_record() -> None:
    change = WalletChange(min_balance=Decimal("-50"), max_removed=True, status=WalletStatus.FROZEN)
    update = OperationRequest(
        uuid.uuid4(), uuid.uuid4(), OperationType.WALLET_UPDATE, Decimal(0), NOW, currency="EUR", change=change
    )
    # A pending record stores it as JSON text; the driver reads it back as a mapping.
    stored = dict(zip(PENDING_COLUMNS, pending_values(update), strict=True))
    assert json.loads(stored["change"]) == {"min_balance": "-50.0000", "max_balance": None, "status": "frozen"}
    stored["change"] = json.loads(stored["change"])
    row = SimpleNamespace(**{c: uuid.UUID(v) if c.endswith("id") and v else v for c, v in stored.items()})
    assert request_from_pending(row) == update
    # The batch insert takes it as JSON text too, and a plain driver's mapping reads back as it was.
    result = OperationResult(update.operation_id, OperationStatus.APPLIED, Decimal(0))
    ledger = ledger_row(update, result, balance_after=Decimal(0), held_after=Decimal(0), hold_id=None, currency="EUR")
    [text] = ledger_columns([ledger])["change"]
    values = {column: ledger.get(column) for column in LEDGER_COLUMNS} | {"seq": 1, "applied_at": NOW}
    values.update(id=str(update.operation_id), wallet_id=str(update.wallet_id), change=json.loads(text))
    assert LedgerRecord.from_values(tuple(values.values())).change == change
