"""A wallet's controls as its writer decides them (``worker.ledger_batch``): limits and overdraft,
freeze and close, each change a ledger row in order with the wallet's money."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import Engine, select

from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.tables import events, transfers, wallet_operations, wallets
from shared.transfers import TransferState
from tests.support.api import NO_ANNOTATIONS
from tests.support.factories import (
    hold_change_request,
    hold_request,
    operation,
    seed_applied_deposit,
    transfer_debit,
    wallet_row,
    wallet_update,
)
from tests.support.workers import Rig, decided

DEPOSIT, WITHDRAW = OperationType.DEPOSIT, OperationType.WITHDRAW
APPLIED, REJECTED = OperationStatus.APPLIED, OperationStatus.REJECTED


def controls(engine: Engine, wallet: uuid.UUID) -> tuple[Decimal, Decimal, Decimal | None, str]:
    """(balance, min_balance, max_balance, status)"""
    with engine.connect() as conn:
        row = conn.execute(
            select(wallets.c.balance, wallets.c.min_balance, wallets.c.max_balance, wallets.c.status).where(
                wallets.c.id == wallet
            )
        ).one()
    return row.balance, row.min_balance, row.max_balance, row.status


def funded(engine: Engine, amount: str, **change: str | None) -> uuid.UUID:
    wallet = wallet_row(engine)
    if Decimal(amount):
        seed_applied_deposit(engine, wallet, Decimal(amount))
    if change:
        assert decided(engine, wallet_update(wallet, **change)) == [(APPLIED, None)]
    return wallet


def test_an_overdraft_line_lets_debits_and_holds_take_available_money_down_to_it(db: Engine) -> None:
    wallet = funded(db, "10.00", min_balance="-50.00")
    assert decided(
        db,
        hold_request(wallet, "20.00"),  # holds count against the line
        operation(wallet, WITHDRAW, "40.01"),
        operation(wallet, WITHDRAW, "40.00"),
        operation(wallet, WITHDRAW, "0.01"),
    ) == [(APPLIED, None), (REJECTED, "Insufficient funds"), (APPLIED, None), (REJECTED, "Insufficient funds")]
    assert controls(db, wallet) == (Decimal("-30.00"), Decimal("-50.00"), None, "active")
    # Raising the line above the money it has is allowed: it only refuses further debits.
    assert (
        decided(db, wallet_update(wallet, min_balance="0"), operation(wallet, DEPOSIT, "5.00")) == [(APPLIED, None)] * 2
    )
    assert decided(db, operation(wallet, WITHDRAW, "0.01")) == [(REJECTED, "Insufficient funds")]


def test_a_maximum_stops_credits_exactly_there_and_may_be_set_below_the_balance(db: Engine) -> None:
    wallet = funded(db, "90.00", max_balance="100.00")
    assert decided(
        db, operation(wallet, DEPOSIT, "10.01"), operation(wallet, DEPOSIT, "10.00"), operation(wallet, DEPOSIT, "0.01")
    ) == [(REJECTED, "Balance limit exceeded"), (APPLIED, None), (REJECTED, "Balance limit exceeded")]
    assert (
        decided(db, wallet_update(wallet, max_balance="50.00"), operation(wallet, WITHDRAW, "30.00"))
        == [(APPLIED, None)] * 2
    )
    assert decided(db, operation(wallet, DEPOSIT, "0.01")) == [(REJECTED, "Balance limit exceeded")]
    assert (
        decided(db, wallet_update(wallet, max_balance=None), operation(wallet, DEPOSIT, "1000.00"))
        == [(APPLIED, None)] * 2
    )
    assert controls(db, wallet) == (Decimal("1070.00"), Decimal(0), None, "active")


def test_a_frozen_wallet_refuses_what_takes_money_and_takes_what_is_owed_to_it(rig: Rig) -> None:
    wallet, other = rig.wallet_on(1, "100.00"), rig.wallet_on(2, "100.00")
    held, kept = hold_request(wallet, "10.00"), hold_request(wallet, "5.00")
    rig.enqueue(held)
    rig.enqueue(kept)
    freeze = wallet_update(wallet, status="frozen")
    refused = [operation(wallet, WITHDRAW, "1.00"), hold_request(wallet, "1.00"), transfer_debit(wallet, other, "1.00")]
    capture = hold_change_request(held, OperationType.HOLD_CAPTURE)
    void = hold_change_request(kept, OperationType.HOLD_VOID)
    credits = [operation(wallet, DEPOSIT, "2.00"), transfer_debit(other, wallet, "3.00")]
    for request in [freeze, *refused, capture, void, *credits]:
        rig.enqueue(request)
    rig.worker().work(burst=True)
    assert [rig.reply(r).error for r in [*refused, capture]] == ["Wallet is frozen"] * 4
    assert [rig.reply(r).status for r in [freeze, void, *credits]] == [APPLIED] * 4
    with rig.db.connect() as conn:
        state = conn.execute(select(transfers.c.state).where(transfers.c.id == credits[1].operation_id)).scalar_one()
    assert state == TransferState.COMPLETED.value
    assert controls(rig.db, wallet) == (Decimal("105.00"), Decimal(0), None, "frozen")
    # Unfrozen, it pays again.
    unfreeze, withdrawal = wallet_update(wallet, status="active"), operation(wallet, WITHDRAW, "1.00")
    rig.enqueue(unfreeze)
    rig.enqueue(withdrawal)
    rig.worker().work(burst=True)
    assert rig.reply(withdrawal).status is APPLIED


def test_a_wallet_closes_only_without_money_held_or_on_its_way_out(rig: Rig) -> None:
    with_balance = funded(rig.db, "0.01")
    holding = funded(rig.db, "0.00", min_balance="-10.00")  # a balance of 0, and 5.00 held against the line
    assert decided(rig.db, hold_request(holding, "5.00")) == [(APPLIED, None)]
    sending, other = rig.wallet_on(1, "10.00"), rig.wallet_on(2)
    rig.enqueue(transfer_debit(sending, other, "10.00"))  # its credit waits on shard 2's queue
    rig.worker(shards=[1]).work(burst=True)
    assert rig.balance(sending) == 0
    closes = {wallet: wallet_update(wallet, status="closed") for wallet in (with_balance, holding, sending)}
    assert decided(rig.db, *closes.values()) == [(REJECTED, "Wallet is not empty")] * 3
    rig.worker(shards=[2]).work(burst=True)  # the credit lands: the transfer is no longer pending
    assert decided(rig.db, wallet_update(sending, status="closed")) == [(APPLIED, None)]
    assert controls(rig.db, sending) == (Decimal(0), Decimal(0), None, "closed")


def test_a_closed_wallet_refuses_everything_and_a_transfer_to_it_comes_back(rig: Rig) -> None:
    closed, other = rig.wallet_on(1), rig.wallet_on(2, "10.00")
    assert decided(rig.db, wallet_update(closed, status="closed")) == [(APPLIED, None)]
    assert (
        decided(
            rig.db,
            operation(closed, DEPOSIT, "1.00"),
            wallet_update(closed, status="active"),
            wallet_update(closed, max_balance="5.00"),
        )
        == [(REJECTED, "Wallet is closed")] * 3
    )
    sent = transfer_debit(other, closed, "4.00")
    rig.enqueue(sent)
    rig.worker().work(burst=True)
    with rig.db.connect() as conn:
        moved = conn.execute(
            select(transfers.c.state, transfers.c.error).where(transfers.c.id == sent.operation_id)
        ).one()
    assert tuple(moved) == (TransferState.FAILED.value, "Wallet is closed")
    assert (rig.balance(other), rig.balance(closed)) == (Decimal("10.00"), Decimal(0))


def test_each_change_is_a_ledger_row_and_an_event_with_the_wallet_after_it(db: Engine) -> None:
    wallet = funded(db, "7.00")
    change = wallet_update(wallet, min_balance="-5", status="frozen")
    refused = wallet_update(wallet, status="closed")
    assert decided(db, change, refused) == [(APPLIED, None), (REJECTED, "Wallet is not empty")]
    with db.connect() as conn:
        rows = conn.execute(
            select(wallet_operations.c.id, wallet_operations.c.amount, wallet_operations.c.change)
            .where(wallet_operations.c.id.in_([change.operation_id, refused.operation_id]))
            .order_by(wallet_operations.c.seq)
        ).all()
        found = conn.execute(
            select(events.c.type, events.c.data)
            .where(events.c.operation_id.in_([change.operation_id, refused.operation_id]))
            .order_by(events.c.seq)
        ).all()
    assert [(row.amount, row.change) for row in rows] == [
        (Decimal(0), {"min_balance": "-5.0000", "status": "frozen"}),
        (Decimal(0), {"status": "closed"}),
    ]
    assert [e.type for e in found] == ["wallet.updated", "operation.rejected"]
    data = found[0].data
    assert {k: v for k, v in data.items() if k != "wallet"} == {
        "id": str(wallet),
        "currency": "EUR",
        "balance": "7.00",
        "available": "7.00",
        "held": "0.00",
        "min_balance": "-5.00",
        "max_balance": None,
        "status": "frozen",
        **NO_ANNOTATIONS,
    }
    assert data["wallet"]["balance"] == "7.00"


def test_the_same_change_under_one_key_is_the_same_request_however_it_is_written(db: Engine) -> None:
    wallet = funded(db, "1.00")
    first = replace(wallet_update(wallet, min_balance="-50"), idempotency_key="limit-1")
    again = replace(wallet_update(wallet, min_balance="-50.00"), idempotency_key="limit-1")
    other = replace(wallet_update(wallet, min_balance="-40"), idempotency_key="limit-1")
    assert decided(db, first) == [(APPLIED, None)]
    assert decided(db, again, other) == [(APPLIED, None), (REJECTED, Rejection.IDEMPOTENCY_MISMATCH.value)]
    assert controls(db, wallet)[1] == Decimal("-50.00")


def test_a_change_may_replace_the_metadata_in_order_with_the_wallets_other_changes(db: Engine) -> None:
    """Each change's event shows the metadata right after it, within one batch too; a change
    that does not name metadata keeps it, null removes it, and a closed wallet keeps its own."""
    wallet = funded(db, "0")
    tiers = [
        wallet_update(wallet, metadata={"tier": "gold"}),
        wallet_update(wallet, status="frozen"),
        wallet_update(wallet, metadata={"tier": "silver", "region": "eu"}),
    ]
    assert decided(db, *tiers) == [(APPLIED, None)] * 3
    assert _metadata(db, wallet) == {"tier": "silver", "region": "eu"}
    removed, closed, refused = (
        wallet_update(wallet, metadata=None),
        wallet_update(wallet, status="closed"),
        wallet_update(wallet, metadata={"tier": "gold"}),
    )
    assert decided(db, removed, closed, refused) == [(APPLIED, None), (APPLIED, None), (REJECTED, "Wallet is closed")]
    assert _metadata(db, wallet) is None
    with db.connect() as conn:
        shown = conn.execute(
            select(events.c.data)
            .where(events.c.operation_id.in_([r.operation_id for r in (*tiers, removed, closed)]))
            .order_by(events.c.seq)
        ).scalars()
        assert [data["metadata"] for data in shown] == [
            {"tier": "gold"},
            {"tier": "gold"},
            {"tier": "silver", "region": "eu"},
            None,
            None,
        ]


def test_the_same_metadata_under_one_key_is_the_same_change_and_other_metadata_is_not(db: Engine) -> None:
    wallet = funded(db, "0")
    first = replace(wallet_update(wallet, metadata={"a": "1", "b": "2"}), idempotency_key="meta-1")
    again = replace(wallet_update(wallet, metadata={"b": "2", "a": "1"}), idempotency_key="meta-1")
    other = replace(wallet_update(wallet, metadata={"a": "1"}), idempotency_key="meta-1")
    assert decided(db, first) == [(APPLIED, None)]
    assert decided(db, again, other) == [(APPLIED, None), (REJECTED, Rejection.IDEMPOTENCY_MISMATCH.value)]
    assert _metadata(db, wallet) == {"a": "1", "b": "2"}


def _metadata(engine: Engine, wallet: uuid.UUID) -> object:
    with engine.connect() as conn:
        return conn.execute(select(wallets.c.metadata).where(wallets.c.id == wallet)).scalar_one()
