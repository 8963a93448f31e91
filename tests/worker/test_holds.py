"""Holds in the shard worker (``worker.holds``): money set aside, captured or voided once,
expired by the worker, with a capture to another wallet going through the transfers'
machinery. In-process workers on real PostgreSQL and Redis."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from shared.messages import OperationRequest
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.tables import holds, transfers, wallets
from shared.transfers import TransferState
from tests.support.factories import hold_change_request, hold_request
from tests.support.workers import Rig
from worker import chores
from worker.apply import ledger_apply

hold = hold_request


change = hold_change_request


def money(db: Engine, wallet: uuid.UUID) -> tuple[Decimal, Decimal]:
    """(balance, held)"""
    with db.connect() as conn:
        row = conn.execute(select(wallets.c.balance, wallets.c.held).where(wallets.c.id == wallet)).one()
    return row.balance, row.held


def hold_state(db: Engine, hold_id: uuid.UUID | None) -> tuple[str, Decimal | None]:
    with db.connect() as conn:
        row = conn.execute(select(holds.c.state, holds.c.captured).where(holds.c.id == hold_id)).one()
    return row.state, row.captured


def run(rig: Rig, *requests: OperationRequest) -> None:
    for request in requests:
        rig.enqueue(request)
    rig.worker().work(burst=True)


def test_held_money_is_not_available_to_withdrawals_transfers_or_holds(rig: Rig) -> None:
    wallet = rig.wallet_on(1, "100.00")
    holds_of_10 = [hold(wallet, "10.00") for _ in range(11)]
    withdrawal = OperationRequest(uuid.uuid4(), wallet, OperationType.WITHDRAW, Decimal("0.01"), datetime.now(UTC))
    run(rig, *holds_of_10, withdrawal)
    statuses = [rig.reply(h).status for h in holds_of_10]
    assert statuses == [OperationStatus.APPLIED] * 10 + [OperationStatus.REJECTED]
    assert rig.reply(holds_of_10[-1]).error == Rejection.INSUFFICIENT_FUNDS.value
    assert rig.reply(withdrawal).error == Rejection.INSUFFICIENT_FUNDS.value
    assert money(rig.db, wallet) == (Decimal("100.00"), Decimal("100.00"))


def test_a_partial_capture_takes_its_amount_releases_the_rest_and_happens_once(rig: Rig) -> None:
    wallet = rig.wallet_on(1, "100.00")
    held = hold(wallet, "30.00")
    capture = change(held, OperationType.HOLD_CAPTURE, "25.00")
    again = change(held, OperationType.HOLD_CAPTURE, "1.00")
    void = change(held, OperationType.HOLD_VOID)
    run(rig, held, capture, again, void)
    assert rig.reply(capture).balance_after == Decimal("75.00")
    assert rig.reply(again).error == Rejection.HOLD_CAPTURED.value
    assert rig.reply(void).error == Rejection.HOLD_CAPTURED.value
    assert money(rig.db, wallet) == (Decimal("75.00"), Decimal("0.00"))
    assert hold_state(rig.db, held.hold_id) == ("captured", Decimal("25.00"))


def test_a_void_releases_everything_and_a_later_capture_is_refused(rig: Rig) -> None:
    wallet = rig.wallet_on(1, "50.00")
    held = hold(wallet, "50.00")
    too_much = change(held, OperationType.HOLD_CAPTURE, "50.01")
    void = change(held, OperationType.HOLD_VOID)
    capture = change(held, OperationType.HOLD_CAPTURE)
    run(rig, held, too_much, void, capture)
    assert rig.reply(too_much).error == Rejection.CAPTURE_TOO_LARGE.value
    assert rig.reply(void).status is OperationStatus.APPLIED
    assert rig.reply(capture).error == Rejection.HOLD_VOIDED.value
    assert money(rig.db, wallet) == (Decimal("50.00"), Decimal("0.00"))
    assert hold_state(rig.db, held.hold_id) == ("voided", None)


def test_a_hold_past_its_expiry_cannot_be_captured_and_the_owner_expires_it(rig: Rig) -> None:
    wallet = rig.wallet_on(1, "20.00")
    held = hold(wallet, "20.00", seconds=0.2)
    run(rig, held)
    assert money(rig.db, wallet) == (Decimal("20.00"), Decimal("20.00"))
    late = change(held, OperationType.HOLD_CAPTURE)
    time.sleep(0.3)
    with rig.db.begin() as conn:  # applied as a batch is, before any sweep: decided by expires_at
        [result] = ledger_apply(conn, [late], shard_count=rig.settings.shard_count).results
    assert result.error == Rejection.HOLD_EXPIRED.value
    assert hold_state(rig.db, held.hold_id) == ("active", None)
    worker = rig.worker()
    worker.bootstrap()
    try:
        assert chores.holds_expire(worker) == 1
        assert chores.holds_expire(worker) == 0
    finally:
        worker.teardown()
    assert hold_state(rig.db, held.hold_id) == ("expired", None)
    assert money(rig.db, wallet) == (Decimal("20.00"), Decimal("0.00"))


@pytest.mark.parametrize(("destination_shard", "captured"), [(2, "15.00"), (1, "40.00")], ids=["across", "within"])
def test_a_capture_to_a_wallet_completes_as_a_transfer(rig: Rig, destination_shard: int, captured: str) -> None:
    """Across shards the credit goes through the destination's queue; within one shard it is
    applied in the capture's transaction."""
    source = rig.wallet_on(1, "40.00")
    destination = rig.wallet_on(destination_shard)
    held = hold(source, "40.00", to=destination)
    capture = change(held, OperationType.HOLD_CAPTURE, captured)
    run(rig, held, capture)
    left = Decimal("40.00") - Decimal(captured)
    assert rig.reply(capture).balance_after == left
    assert money(rig.db, source) == (left, Decimal("0.00"))
    assert money(rig.db, destination) == (Decimal(captured), Decimal("0.00"))
    with rig.db.connect() as conn:
        state = conn.execute(select(transfers.c.state).where(transfers.c.id == capture.operation_id)).scalar_one()
    assert state == TransferState.COMPLETED
    assert hold_state(rig.db, held.hold_id) == ("captured", Decimal(captured))
