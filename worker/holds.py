"""Holds on the worker side: the record each change of a hold moves on, and the sweep that
expires holds past their ``expires_at``.

A hold is decided by the worker of its wallet's shard, like every operation of the wallet,
in FIFO order with them: ``HOLD`` sets money aside (``wallets.held`` goes up, the balance
does not), ``HOLD_CAPTURE`` takes the captured money out of the balance and releases the
whole hold, ``HOLD_VOID`` and ``HOLD_EXPIRE`` release it. A hold changes once: the first
change wins and every later one is refused with the hold's state, and a capture or void at or
after ``expires_at`` is refused even before the sweep expired it (the database's clock
decides, the same for every worker).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Integer, SmallInteger, Uuid, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from shared.annotations import Metadata, stored_metadata
from shared.holds import REFUSED_AS, HoldState
from shared.messages import OperationRequest
from shared.operations import HOLD_CHANGES, OperationType
from shared.outcomes import Rejection
from shared.resources import HoldRow
from shared.sharding import shard_for
from shared.tables import holds

_EXPIRY = UUID("6b0d3f5e-2a71-4c8e-9d4f-3e5a7c1b9f20")
"""The namespace of the derived ids of expiries (fixed forever)."""

SWEEP_BATCH = 200
"""Most holds expired in one transaction."""

_IDS = bindparam("ids", type_=ARRAY(Uuid))
_LOCK_HOLDS = (
    select(
        holds.c.id,
        holds.c.wallet_id,
        holds.c.to_wallet_id,
        holds.c.amount,
        holds.c.state,
        holds.c.expires_at,
        holds.c.created_at,
        holds.c.currency,
        holds.c.reference,
        holds.c.metadata,
    )
    .where(holds.c.id == any_(_IDS))
    .order_by(holds.c.id)
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE: see worker.apply._LOCK_WALLETS
)
_NOW = select(func.now())
_SET_STATE = (
    update(holds)
    .where(holds.c.id == bindparam("hold"))
    .values(
        state=bindparam("new_state"),
        captured=bindparam("new_captured"),
        resolved_by=bindparam("by"),
        updated_at=func.now(),
    )
)
_DUE = (
    select(holds.c.id, holds.c.wallet_id, holds.c.amount, holds.c.api_key_id, holds.c.expires_at, holds.c.currency)
    .where(holds.c.state == HoldState.ACTIVE)
    .where(holds.c.shard == any_(bindparam("shards", type_=ARRAY(SmallInteger))))
    .where(holds.c.expires_at <= func.now())
    .order_by(holds.c.expires_at)
    .limit(bindparam("limit", type_=Integer))
)


def expiry_id(hold_id: UUID) -> UUID:
    return uuid.uuid5(_EXPIRY, f"{hold_id}:expire")


@dataclass(frozen=True, slots=True)
class _Hold:
    id: UUID
    wallet_id: UUID
    to_wallet_id: UUID | None
    amount: Decimal
    expires_at: datetime
    created_at: datetime
    currency: str
    reference: str | None
    metadata: Metadata | None


@dataclass(slots=True)
class HoldBook:
    """The holds one ``worker.apply.ledger_apply`` call touches: loaded (and locked) before
    the transfers and the wallets, changed in memory, written with the ledger rows."""

    shard_count: int
    now: datetime | None
    found: dict[UUID, _Hold]
    """The holds the batch changes: locked ``FOR NO KEY UPDATE``, or made earlier in the batch."""
    states: dict[UUID, str] = field(default_factory=dict)
    new: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    changes: dict[UUID, tuple[str, Decimal | None, UUID]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, requests: Sequence[OperationRequest], *, shard_count: int) -> HoldBook:
        ids = sorted({r.hold_id for r in requests if r.operation_type in HOLD_CHANGES and r.hold_id is not None})
        if not ids:
            return cls(shard_count, None, {})
        rows = conn.execute(_LOCK_HOLDS, {"ids": ids}).all()
        now = conn.execute(_NOW).scalar_one()
        found = {
            row.id: _Hold(
                row.id,
                row.wallet_id,
                row.to_wallet_id,
                row.amount,
                row.expires_at,
                row.created_at,
                row.currency,
                row.reference,
                stored_metadata(row.metadata),
            )
            for row in rows
        }
        return cls(shard_count, now, found, {row.id: row.state for row in rows})

    def refusal(self, request: OperationRequest) -> Rejection | None:
        """Why a change of a hold is refused whatever the balance, if it is."""
        hold = self.found.get(request.hold_id) if request.hold_id is not None else None
        if hold is None or hold.wallet_id != request.wallet_id:
            return Rejection.HOLD_NOT_FOUND
        state = self.states[hold.id]
        if state != HoldState.ACTIVE:
            return REFUSED_AS[HoldState(state)]
        assert self.now is not None
        kind = request.operation_type
        if kind is OperationType.HOLD_EXPIRE:
            return None if self.now >= hold.expires_at and request.amount == hold.amount else Rejection.UNPROCESSABLE
        if self.now >= hold.expires_at:
            return Rejection.HOLD_EXPIRED
        if kind is OperationType.HOLD_VOID and request.amount != hold.amount:
            return Rejection.UNPROCESSABLE
        if kind is OperationType.HOLD_CAPTURE:
            if request.amount > hold.amount:
                return Rejection.CAPTURE_TOO_LARGE
            if request.counterparty_id != hold.to_wallet_id:
                return Rejection.UNPROCESSABLE
        return None

    def held_change(self, request: OperationRequest) -> Decimal:
        """How an applied operation changes its wallet's held money."""
        kind = request.operation_type.kind
        if kind.makes_hold:
            return request.amount
        if kind.resolves_hold is not None:
            assert request.hold_id is not None
            amount: Decimal = self.found[request.hold_id].amount
            return -amount
        return Decimal(0)

    def applied(self, request: OperationRequest) -> None:
        """Record what an applied operation did to its hold."""
        kind = request.operation_type.kind
        if kind.makes_hold:
            assert request.expires_at is not None
            assert request.currency is not None  # given its wallet's (worker.apply), and applied: the same
            self.found[request.operation_id] = _Hold(
                request.operation_id,
                request.wallet_id,
                request.counterparty_id,
                request.amount,
                request.expires_at,
                request.created_at,
                request.currency,
                request.reference,
                request.metadata,
            )
            self.states[request.operation_id] = HoldState.ACTIVE
            self.new[request.operation_id] = {
                "id": request.operation_id,
                "wallet_id": request.wallet_id,
                "to_wallet_id": request.counterparty_id,
                "amount": request.amount,
                "state": HoldState.ACTIVE.value,
                "shard": shard_for(request.wallet_id, self.shard_count),
                "expires_at": request.expires_at,
                "api_key_id": request.api_key_id,
                "created_at": request.created_at,
                "captured": None,
                "resolved_by": None,
                "currency": request.currency,
                "reference": request.reference,
                "metadata": request.metadata,
            }
        elif kind.resolves_hold is not None:
            assert request.hold_id is not None
            state = kind.resolves_hold.value
            captured = request.amount if kind.resolves_hold is HoldState.CAPTURED else None
            self.states[request.hold_id] = state
            if request.hold_id in self.new:  # made and changed in one batch
                self.new[request.hold_id].update(state=state, captured=captured, resolved_by=request.operation_id)
            else:
                self.changes[request.hold_id] = (state, captured, request.operation_id)

    def view(self, hold_id: UUID, now: datetime) -> HoldRow:
        """The hold as ``GET /api/v1/holds/<id>`` would show it now (``now``: the transaction's time)."""
        hold = self.found[hold_id]
        captured: Decimal | None = None
        resolved_by: UUID | None = None
        if hold_id in self.new:
            captured, resolved_by = self.new[hold_id]["captured"], self.new[hold_id]["resolved_by"]
        elif hold_id in self.changes:
            _, captured, resolved_by = self.changes[hold_id]
        return HoldRow(
            hold.id,
            hold.wallet_id,
            hold.to_wallet_id,
            hold.amount,
            captured,
            self.states[hold_id],
            resolved_by,
            hold.expires_at,
            hold.created_at,
            now,
            hold.currency,
            hold.reference,
            hold.metadata,
        )

    def ledger_hold_id(self, request: OperationRequest) -> UUID | None:
        """The hold a ledger row names: none for a refused hold, or a change of no hold."""
        if request.hold_id is None:
            return None
        if request.operation_type.kind.makes_hold:
            return request.hold_id if request.hold_id in self.new else None
        return request.hold_id if request.hold_id in self.found else None

    def write_new(self, conn: Connection) -> None:
        """Insert the new holds (before the ledger rows that name them)."""
        if self.new:
            # updated_at: the transaction's time, as every later change of the hold writes it (events show it)
            conn.execute(insert(holds).values(updated_at=func.now()), list(self.new.values()))

    def write_changes(self, conn: Connection) -> None:
        if self.changes:
            conn.execute(
                _SET_STATE,
                [
                    {"hold": hold_id, "new_state": state, "new_captured": captured, "by": by}
                    for hold_id, (state, captured, by) in sorted(self.changes.items())
                ],
            )


def holds_due(conn: Connection, shards: Sequence[int], *, limit: int) -> list[OperationRequest]:
    """The expiry of each active hold of ``shards`` past its ``expires_at``."""
    rows = conn.execute(_DUE, {"shards": list(shards), "limit": limit})
    return [
        OperationRequest(
            operation_id=expiry_id(row.id),
            wallet_id=row.wallet_id,
            operation_type=OperationType.HOLD_EXPIRE,
            amount=row.amount,
            created_at=row.expires_at,
            api_key_id=row.api_key_id,
            hold_id=row.id,
            currency=row.currency,
        )
        for row in rows
    ]
