"""The table of kinds (``shared.operations.KINDS``): every kind once, and what is derived from it."""

from __future__ import annotations

import uuid

import pytest

from shared.holds import HoldState
from shared.operations import (
    CLIENT_OPERATION_TYPES,
    HOLD_CHANGES,
    KINDS,
    REVERSAL_OF,
    TRANSFER_LEGS,
    Counterparty,
    OperationType,
    TransferLeg,
    may_name_reversal,
    starts_transfer,
)

T = OperationType


def test_every_kind_has_one_row() -> None:
    assert list(KINDS) == list(OperationType)


def test_signs() -> None:
    assert {t: t.kind.sign for t in OperationType} == {
        T.DEPOSIT: 1,
        T.WITHDRAW: -1,
        T.TRANSFER_OUT: -1,
        T.TRANSFER_IN: 1,
        T.TRANSFER_REFUND: 1,
        T.HOLD: 0,
        T.HOLD_CAPTURE: -1,
        T.HOLD_VOID: 0,
        T.HOLD_EXPIRE: 0,
        T.WALLET_UPDATE: 0,
        T.REVERSE_DEPOSIT: -1,
        T.REVERSE_WITHDRAW: 1,
    }


def test_derived_sets() -> None:
    assert CLIENT_OPERATION_TYPES == (T.DEPOSIT, T.WITHDRAW)
    assert TRANSFER_LEGS == {
        TransferLeg.DEBIT: T.TRANSFER_OUT,
        TransferLeg.CREDIT: T.TRANSFER_IN,
        TransferLeg.REFUND: T.TRANSFER_REFUND,
    }
    assert HOLD_CHANGES == (T.HOLD_CAPTURE, T.HOLD_VOID, T.HOLD_EXPIRE)
    assert {t: k.resolves_hold for t, k in KINDS.items() if k.resolves_hold} == {
        T.HOLD_CAPTURE: HoldState.CAPTURED,
        T.HOLD_VOID: HoldState.VOIDED,
        T.HOLD_EXPIRE: HoldState.EXPIRED,
    }
    assert [t for t, k in KINDS.items() if k.spends_available] == [
        T.WITHDRAW,
        T.TRANSFER_OUT,
        T.HOLD,
        T.REVERSE_DEPOSIT,
    ]
    assert [t for t, k in KINDS.items() if k.returns_money] == [T.TRANSFER_REFUND]
    assert [t for t, k in KINDS.items() if k.crosses_edge] == [
        T.DEPOSIT,
        T.WITHDRAW,
        T.HOLD_CAPTURE,
        T.REVERSE_DEPOSIT,
        T.REVERSE_WITHDRAW,
    ]
    assert REVERSAL_OF == {T.DEPOSIT: T.REVERSE_DEPOSIT, T.WITHDRAW: T.REVERSE_WITHDRAW}
    assert [t for t in OperationType if may_name_reversal(t)] == [
        T.TRANSFER_OUT,
        T.TRANSFER_IN,
        T.TRANSFER_REFUND,
        T.REVERSE_DEPOSIT,
        T.REVERSE_WITHDRAW,
    ]


@pytest.mark.parametrize("kind", list(OperationType))
def test_each_row_is_coherent(kind: OperationType) -> None:
    row = KINDS[kind]
    assert row.sign in (-1, 0, 1)
    if row.spends_available or row.makes_hold:
        assert row.sign <= 0  # money that leaves, or is set aside, must be there
    if row.returns_money:
        assert row.sign > 0
    if row.leg is not None:
        assert row.counterparty is Counterparty.MUST
    if row.reverses is not None:  # money of its own wallet, the other way
        assert row.sign == -row.reverses.kind.sign
        assert row.crosses_edge == row.reverses.kind.crosses_edge
        assert row.counterparty is Counterparty.NEVER
    if row.client:
        assert row.counterparty is Counterparty.NEVER
        assert row.leg is None
        assert not row.names_hold


def test_the_one_rule_of_a_transfers_debit() -> None:
    wallet = uuid.uuid4()
    assert starts_transfer(T.TRANSFER_OUT, wallet)
    assert starts_transfer(T.HOLD_CAPTURE, wallet)
    assert not starts_transfer(T.HOLD_CAPTURE, None)
    assert not any(starts_transfer(t, wallet) for t in OperationType if t not in (T.TRANSFER_OUT, T.HOLD_CAPTURE))
