"""Applying a batch of operations in one transaction: the only code that writes balances.

Exactly once: the operation id is the ledger's primary key. An operation whose
row already exists is answered from that row and changes nothing, so a batch
redelivered after a crash is harmless. Likewise an operation whose wallet and
Idempotency-Key already name a ledger row is answered with that row's result
(the same request) or refused (a different one), also when the web node's
record of the key was lost. In batch order (FIFO per wallet), each
operation is applied or rejected on its own; a rejected withdrawal rejects
only itself. Wallet rows are locked ``FOR NO KEY UPDATE`` although a shard has one
writer: correctness must not depend on that alone.

Transfer legs (``shared.transfers``) are operations too, with their transfer's record
moved on in the same transaction (``worker.transfers.TransferBook``): the records are locked
before the wallets, in every transaction, so two workers never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, String, Uuid, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from shared.messages import (
    HOLD_CHANGES,
    OperationRequest,
    OperationResult,
    OperationStatus,
    OperationType,
    Rejection,
    request_identity,
)
from shared.money import MAX_BALANCE
from shared.tables import MONEY, holds, transfers, wallet_operations, wallets
from shared.transfers import TransferState
from worker.holds import HoldBook
from worker.transfers import TransferBook


def _decide(
    operation_type: OperationType, amount: Decimal, balance: Decimal, available: Decimal, outgoing: Decimal
) -> tuple[Decimal, Rejection | None]:
    """The balance after an operation and why it was refused, if it was. Money leaving the
    wallet, or set aside, must be available (not held); a capture takes held money, which the
    hold's checks (``worker.holds``) cover. A credit must fit under the balance limit with the
    wallet's ``outgoing`` money (its transfers still pending, which may come back as refunds):
    so the money that returns (``returns_money``) always fits, and is never refused."""
    if operation_type.sign < 0:
        if operation_type is not OperationType.HOLD_CAPTURE and amount > available:
            return balance, Rejection.INSUFFICIENT_FUNDS
        return balance - amount, None
    if operation_type.sign == 0:
        if operation_type is OperationType.HOLD and amount > available:
            return balance, Rejection.INSUFFICIENT_FUNDS
        return balance, None
    if not operation_type.returns_money and balance + outgoing + amount > MAX_BALANCE:
        return balance, Rejection.BALANCE_LIMIT
    return balance + amount, None


# Statements of a constant shape whatever the batch (lists travel as arrays), so
# SQLAlchemy compiles each once and caches it.
_IDS = bindparam("ids", type_=ARRAY(Uuid))
_BALANCES = bindparam("balances", type_=ARRAY(MONEY))

# FOR NO KEY UPDATE, not FOR UPDATE: it still excludes any other writer of these wallets, but
# not the foreign-key checks of another shard's worker that inserted a row naming one of them
# (a transfer leg's counterparty, a transfer record; Django's foreign keys are checked at
# commit): with FOR UPDATE those checks wait, and two workers moving money between their
# shards deadlocked at commit.
_OUTGOING = (  # by the partial index transfers_pending_from
    select(func.coalesce(func.sum(transfers.c.amount), 0))
    .where(transfers.c.from_wallet_id == wallets.c.id)
    .where(transfers.c.state == TransferState.PENDING.value)
    .scalar_subquery()
)
_LOCK_WALLETS = (
    select(wallets.c.id, wallets.c.balance, wallets.c.held, _OUTGOING.label("outgoing"))
    .where(wallets.c.id == any_(_IDS))
    .order_by(wallets.c.id)
    .with_for_update(key_share=True)
)

_STORED_RESULTS = select(
    wallet_operations.c.id,
    wallet_operations.c.status,
    wallet_operations.c.balance_after,
    wallet_operations.c.error,
    wallet_operations.c.held_after,
).where(wallet_operations.c.id == any_(_IDS))

_HELDS = bindparam("helds", type_=ARRAY(MONEY))
_NEW_BALANCES = (
    func.unnest(_IDS, _BALANCES, _HELDS).table_valued("id", "balance", "held", name="new_balances").render_derived()
)
_SET_BALANCES = (
    update(wallets)
    .where(wallets.c.id == _NEW_BALANCES.c.id)
    .values(balance=_NEW_BALANCES.c.balance, held=_NEW_BALANCES.c.held, updated_at=func.now())
)


_KEYS = bindparam("keys", type_=ARRAY(String))

_KEYED_OPERATIONS = (
    select(
        wallet_operations.c.id,
        wallet_operations.c.wallet_id,
        wallet_operations.c.idempotency_key,
        wallet_operations.c.operation_type,
        wallet_operations.c.amount,
        wallet_operations.c.counterparty_id,
        wallet_operations.c.hold_id,
        wallet_operations.c.expires_at,
        wallet_operations.c.created_at,
        wallet_operations.c.status,
        wallet_operations.c.balance_after,
        wallet_operations.c.error,
        wallet_operations.c.held_after,
    )
    .where(wallet_operations.c.wallet_id == any_(_IDS))
    .where(wallet_operations.c.idempotency_key == any_(_KEYS))
)


@dataclass(frozen=True, slots=True)
class _Keyed:
    """The operation an Idempotency-Key of a wallet already names."""

    identity: str
    """``shared.messages.request_identity`` of the operation."""
    result: OperationResult

    def answer(self, request: OperationRequest) -> OperationResult:
        """The original result for the same request; a refusal for a different one under the same key."""
        if request_identity(request) == self.identity:
            return self.result
        return OperationResult(
            request.operation_id, OperationStatus.REJECTED, None, Rejection.IDEMPOTENCY_MISMATCH.value
        )


def _keyed_operations(conn: Connection, requests: Sequence[OperationRequest]) -> dict[tuple[UUID, str], _Keyed]:
    keyed = [r for r in requests if r.idempotency_key is not None]
    if not keyed:
        return {}
    rows = conn.execute(
        _KEYED_OPERATIONS,
        {"ids": sorted({r.wallet_id for r in keyed}), "keys": sorted({str(r.idempotency_key) for r in keyed})},
    )
    return {
        (row.wallet_id, row.idempotency_key): _Keyed(request_identity(row), OperationResult.from_row(row))
        for row in rows
    }


def _stored_results(conn: Connection, operation_ids: list[UUID]) -> dict[UUID, OperationResult]:
    rows = conn.execute(_STORED_RESULTS, {"ids": operation_ids})
    return {row.id: OperationResult.from_row(row) for row in rows}


@dataclass(slots=True)
class Applied:
    """What one ``ledger_apply`` decided."""

    results: list[OperationResult]
    """One per request, in order."""
    inline: list[OperationResult] = field(default_factory=list)
    """Results of legs applied without a job of their own: the credits of transfers within a shard."""


def operations_apply(
    conn: Connection, requests: Sequence[OperationRequest], *, shard_count: int
) -> list[OperationResult]:
    """Apply ``requests`` in order inside the caller's transaction; one result per request."""
    return ledger_apply(conn, requests, shard_count=shard_count).results


def _ledger_row(
    request: OperationRequest,
    result: OperationResult,
    balance_after: Decimal,
    held_after: Decimal,
    hold_id: UUID | None = None,
) -> dict[str, Any]:
    return {
        "id": request.operation_id,
        "wallet_id": request.wallet_id,
        "operation_type": request.operation_type.value,
        "amount": request.amount,
        "status": result.status.value,
        "error": result.error,
        "balance_after": balance_after,
        "idempotency_key": request.idempotency_key,
        "api_key_id": request.api_key_id,
        "transfer_id": request.transfer_id,
        "counterparty_id": request.counterparty_id,
        "hold_id": hold_id,
        "held_after": held_after,
        "expires_at": request.expires_at,
        "created_at": request.created_at,
    }


def ledger_apply(
    conn: Connection,
    requests: Sequence[OperationRequest],
    *,
    shard_count: int,
    refusals: Mapping[UUID, Rejection] | None = None,
) -> Applied:
    """Apply ``requests`` in order inside the caller's transaction (``operations_apply``), with
    the transfers' bookkeeping (``worker.transfers``): a debit within one shard applies its
    credit too, and every leg moves its transfer's record on. Those named in ``refusals`` are
    recorded as refused for that reason (unless the ledger already answers them)."""
    refusals = refusals or {}
    if not requests:
        return Applied([])
    # Locked in this order in every transaction: holds, transfers, wallets.
    hold_book = HoldBook.load(conn, requests, shard_count=shard_count)
    book = TransferBook.load(conn, requests, shard_count=shard_count)
    wallet_ids = sorted({r.wallet_id for r in requests} | book.inline_wallets)
    # Lock before reading the ledger, so a concurrent writer's commit is seen.
    balances: dict[UUID, Decimal] = {}
    helds: dict[UUID, Decimal] = {}
    outgoings: dict[UUID, Decimal] = {}
    for row in conn.execute(_LOCK_WALLETS, {"ids": wallet_ids}):
        balances[row.id], helds[row.id], outgoings[row.id] = row.balance, row.held, row.outgoing
    decided = _stored_results(conn, [r.operation_id for r in requests])
    keyed = _keyed_operations(conn, requests)
    new_rows: list[dict[str, Any]] = []
    changed: set[UUID] = set()
    applied = Applied([])

    def decide(request: OperationRequest, rejection: Rejection | None = None) -> OperationResult:
        """Apply or refuse one operation in memory; its ledger row is written with the batch."""
        wallet = request.wallet_id
        balance = balances[wallet]
        balance_after = balance
        if rejection is None:
            balance_after, rejection = _decide(
                request.operation_type, request.amount, balance, balance - helds[wallet], outgoings[wallet]
            )
        if rejection is None:
            balances[wallet] = balance_after
            helds[wallet] += hold_book.held_change(request)
            hold_book.applied(request)
            changed.add(wallet)
            result = OperationResult(request.operation_id, OperationStatus.APPLIED, balance_after, None, helds[wallet])
        else:
            result = OperationResult(
                request.operation_id, OperationStatus.REJECTED, balance, rejection.value, helds[wallet]
            )
        new_rows.append(_ledger_row(request, result, balance_after, helds[wallet], hold_book.ledger_hold_id(request)))
        return result

    def available(wallet: UUID) -> Decimal:
        return balances[wallet] - helds[wallet]

    for request in requests:
        known = decided.get(request.operation_id)
        if known is not None:
            applied.results.append(known)
            continue
        key = None if request.idempotency_key is None else (request.wallet_id, request.idempotency_key)
        if key is not None and key in keyed:
            # A retry of a keyed request whose first attempt became another operation.
            result = keyed[key].answer(request)
            decided[request.operation_id] = result
            applied.results.append(result)
            continue
        if request.wallet_id not in balances:
            result = OperationResult(
                request.operation_id, OperationStatus.REJECTED, None, Rejection.WALLET_NOT_FOUND.value
            )
        elif request.operation_id in refusals:
            result = decide(request, refusals[request.operation_id])
            if request.transfer_id == request.operation_id:
                book.opened(request, result.rejection)  # a refused debit: the transfer failed
        elif request.transfer_id == request.operation_id:  # a transfer's debit (or a capture to a wallet)
            refusal = hold_book.refusal(request) if request.operation_type is OperationType.HOLD_CAPTURE else None
            credit = book.inline_credit(request)
            if refusal is None and credit is not None:
                # Within one shard: the credit is decided first, so that a refused one moves nothing.
                if credit.wallet_id not in balances:
                    refusal = Rejection.WALLET_NOT_FOUND
                else:
                    target = credit.wallet_id
                    refusal = _decide(
                        credit.operation_type, credit.amount, balances[target], available(target), outgoings[target]
                    )[1]
            result = decide(request, refusal)  # the debit's own check (funds) if the credit allows it
            book.opened(request, result.rejection)
            if credit is not None and result.status is OperationStatus.APPLIED:
                applied.inline.append(decide(credit))
                book.completed(credit)
            elif result.status is OperationStatus.APPLIED:
                outgoings[request.wallet_id] += request.amount  # pending until its credit or refund
        elif request.operation_type is OperationType.TRANSFER_IN:
            refusal = book.credit_refusal(request)
            result = decide(request, refusal)
            if result.status is OperationStatus.APPLIED:
                book.completed(request)
        elif request.operation_type is OperationType.TRANSFER_REFUND:
            refusal = book.refund_refusal(request)
            result = decide(request, refusal)
            if result.status is OperationStatus.APPLIED:
                book.refunded(request)
                outgoings[request.wallet_id] -= request.amount
        elif request.operation_type in HOLD_CHANGES:
            result = decide(request, hold_book.refusal(request))
        else:
            result = decide(request)
        if key is not None:
            keyed[key] = _Keyed(request_identity(request), result)
        decided[request.operation_id] = result
        applied.results.append(result)
    hold_book.write_new(conn)
    book.write_new(conn)
    if new_rows:
        conn.execute(insert(wallet_operations), new_rows)
    hold_book.write_changes(conn)
    book.write_changes(conn)
    if changed:
        ordered = sorted(changed)
        conn.execute(
            _SET_BALANCES,
            {"ids": ordered, "balances": [balances[w] for w in ordered], "helds": [helds[w] for w in ordered]},
        )
    return applied


def operation_refuse(
    conn: Connection, request: OperationRequest, rejection: Rejection, *, shard_count: int
) -> OperationResult:
    """Record ``request`` as rejected for good, inside the caller's transaction, without
    touching a balance (its row keeps the wallet's balance as ``balance_after``). An operation
    already in the ledger keeps its result."""
    known = _stored_results(conn, [request.operation_id]).get(request.operation_id)
    if known is not None:
        return known
    balance = conn.execute(_LOCK_WALLETS, {"ids": [request.wallet_id]}).first()
    if balance is None:
        return OperationResult(request.operation_id, OperationStatus.REJECTED, None, Rejection.WALLET_NOT_FOUND.value)
    result = OperationResult(
        request.operation_id, OperationStatus.REJECTED, balance.balance, rejection.value, balance.held
    )
    if request.transfer_id == request.operation_id:
        book = TransferBook.load(conn, [request], shard_count=shard_count)
        book.opened(request, rejection)  # a refused debit: the transfer failed, nothing moved
        book.write_new(conn)
    # A refused hold is no hold; a change names its hold if the hold exists.
    hold_id = None if request.operation_type is OperationType.HOLD else request.hold_id
    if hold_id is not None and conn.execute(select(holds.c.id).where(holds.c.id == hold_id)).first() is None:
        hold_id = None
    conn.execute(insert(wallet_operations), [_ledger_row(request, result, balance.balance, balance.held, hold_id)])
    return result
