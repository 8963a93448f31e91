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

Each kind is decided by its handler (``worker.handlers``) on the batch's money in memory
(``worker.ledger_batch``). Transfer legs (``shared.transfers``) are operations too, with their
transfer's record moved on in the same transaction (``worker.transfer_book.TransferBook``), and so
are holds (``worker.holds.HoldBook``): the holds and the records are locked before the wallets,
in every transaction, so two workers never wait on each other in a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, String, Uuid, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from shared.annotations import Annotations, stored_metadata
from shared.ledger import LEDGER_INSERT, ledger_columns, ledger_row
from shared.messages import OperationRequest, OperationResult, request_identity
from shared.outcomes import OperationStatus, Rejection
from shared.tables import holds, transfers, wallet_operations, wallets
from shared.transfers import TransferState
from shared.wallet_controls import Controls
from worker.event_book import EVENTS_INSERT, EventBook
from worker.handlers import HANDLERS
from worker.holds import HoldBook
from worker.ledger_batch import Applied, LedgerBatch
from worker.reversals import ReversalBook
from worker.transfer_book import TransferBook

# Statements of a constant shape whatever the batch (lists travel as arrays), so
# SQLAlchemy compiles each once and caches it.
_IDS = bindparam("ids", type_=ARRAY(Uuid))

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
    select(
        wallets.c.id,
        wallets.c.balance,
        wallets.c.held,
        wallets.c.tenant_id,
        wallets.c.currency,
        wallets.c.min_balance,
        wallets.c.max_balance,
        wallets.c.status,
        _OUTGOING.label("outgoing"),
        func.now().label("now"),
    )
    .where(wallets.c.id == any_(_IDS))
    .order_by(wallets.c.id)
    .with_for_update(key_share=True)
)

# Read only for a batch that changes a wallet: a change may replace its metadata, and its
# wallet.updated event shows both.
_WALLET_ANNOTATIONS = select(wallets.c.id, wallets.c.reference, wallets.c.metadata).where(wallets.c.id == any_(_IDS))

_STORED_RESULTS = select(
    wallet_operations.c.id,
    wallet_operations.c.status,
    wallet_operations.c.balance_after,
    wallet_operations.c.error,
    wallet_operations.c.held_after,
).where(wallet_operations.c.id == any_(_IDS))

_SET_BALANCES = (
    f"UPDATE {wallets.name} SET balance = new.balance, held = new.held, updated_at = now()"  # noqa: S608 (constants)
    " FROM unnest(%(balance_ids)s::uuid[], %(balances)s::numeric[], %(helds)s::numeric[]) AS new(id, balance, held)"
    f" WHERE {wallets.name}.id = new.id"
)
"""The wallets' balances and held money after a batch, one array each (``_ledger_write``)."""

_SET_CONTROLS = (
    f"UPDATE {wallets.name} SET min_balance = new.min_balance, max_balance = new.max_balance,"  # noqa: S608 (constants)
    " status = new.status, metadata = new.metadata::jsonb FROM unnest(%(control_ids)s::uuid[],"
    " %(min_balances)s::numeric[], %(max_balances)s::numeric[], %(statuses)s::varchar[], %(metadatas)s::text[])"
    f" AS new(id, min_balance, max_balance, status, metadata) WHERE {wallets.name}.id = new.id"
)
"""The controls and metadata of the wallets a batch updated (``WALLET_UPDATE``), one array each."""


_KEYS = bindparam("keys", type_=ARRAY(String))

# The whole row: its identity reads the columns ``shared.messages.Identified`` names (each
# feature adds some), its result others.
_KEYED_OPERATIONS = (
    select(wallet_operations)
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


def _wallet_annotations(conn: Connection, requests: Sequence[OperationRequest]) -> dict[UUID, Annotations]:
    """The reference and metadata of the wallets ``requests`` change, as they stand before the
    batch (none if they change none)."""
    updated = sorted({r.wallet_id for r in requests if r.operation_type.kind.updates_wallet})
    if not updated:
        return {}
    rows = conn.execute(_WALLET_ANNOTATIONS, {"ids": updated})
    return {row.id: Annotations(row.reference, stored_metadata(row.metadata)) for row in rows}


def _stored_results(conn: Connection, operation_ids: list[UUID]) -> dict[UUID, OperationResult]:
    rows = conn.execute(_STORED_RESULTS, {"ids": operation_ids})
    return {row.id: OperationResult.from_row(row) for row in rows}


def ledger_apply(
    conn: Connection,
    requests: Sequence[OperationRequest],
    *,
    shard_count: int,
    refusals: Mapping[UUID, Rejection] | None = None,
) -> Applied:
    """Apply ``requests`` in order inside the caller's transaction, one result per request, each
    by its kind's handler (``worker.handlers``): a debit within one shard decides its credit
    (and refund) too, and every leg moves its transfer's record on. Those named in ``refusals`` are recorded
    as refused for that reason (unless the ledger already answers them)."""
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
    tenants: dict[UUID, UUID | None] = {}
    currencies: dict[UUID, str] = {}
    controls: dict[UUID, Controls] = {}
    now = None
    for row in conn.execute(_LOCK_WALLETS, {"ids": wallet_ids}):
        balances[row.id], helds[row.id], outgoings[row.id] = row.balance, row.held, row.outgoing
        tenants[row.id], currencies[row.id], now = row.tenant_id, row.currency, row.now
        controls[row.id] = Controls.stored(row.min_balance, row.max_balance, row.status)
    requests = _with_currencies(requests, currencies)
    decided = _stored_results(conn, [r.operation_id for r in requests])
    keyed = _keyed_operations(conn, requests)
    annotations = _wallet_annotations(conn, requests)
    event_book = EventBook(now or _transaction_time(conn), tenants, annotations)
    reversal_book = ReversalBook.load(conn, requests)  # after the lock: what its writer applied
    batch = LedgerBatch(
        hold_book, book, event_book, balances, helds, outgoings, currencies, controls, annotations, reversal_book
    )
    for request in requests:
        known = decided.get(request.operation_id)
        if known is not None:
            batch.applied.results.append(known)
            continue
        key = None if request.idempotency_key is None else (request.wallet_id, request.idempotency_key)
        if key is not None and key in keyed:
            # A retry of a keyed request whose first attempt became another operation.
            result = keyed[key].answer(request)
            decided[request.operation_id] = result
            batch.applied.results.append(result)
            continue
        if request.wallet_id not in balances:
            result = OperationResult(
                request.operation_id, OperationStatus.REJECTED, None, Rejection.WALLET_NOT_FOUND.value
            )
        elif request.operation_id in refusals:
            result = batch.decide(request, refusals[request.operation_id])
            if request.starts_transfer:
                book.opened(request, result.rejection, currencies[request.wallet_id])  # a refused debit: failed
        else:
            result = HANDLERS[request.operation_type](batch, request)
        if key is not None:
            keyed[key] = _Keyed(request_identity(request), result)
        decided[request.operation_id] = result
        batch.applied.results.append(result)
    hold_book.write_new(conn)
    book.write_new(conn)
    ordered = sorted(batch.changed)
    balances_after: dict[str, list[Any]] = {
        "balance_ids": [str(w) for w in ordered],
        "balances": [balances[w] for w in ordered],
        "helds": [helds[w] for w in ordered],
    }
    _ledger_write(conn, batch.new_rows, event_book, balances_after if ordered else None, _controls_after(batch))
    hold_book.write_changes(conn)
    book.write_changes(conn)
    return batch.applied


def _controls_after(batch: LedgerBatch) -> dict[str, list[Any]] | None:
    """``_SET_CONTROLS``'s arrays for the wallets the batch updated (None: it updated none)."""
    if not batch.updated:
        return None
    ordered = sorted(batch.updated)
    after = [batch.controls[w] for w in ordered]
    metadatas = [batch.annotations[w].metadata for w in ordered]
    return {
        "control_ids": [str(w) for w in ordered],
        "min_balances": [c.min_balance for c in after],
        "max_balances": [c.max_balance for c in after],
        "statuses": [c.status.value for c in after],
        "metadatas": [None if m is None else json.dumps(m) for m in metadatas],
    }


def _with_currencies(requests: Sequence[OperationRequest], currencies: dict[UUID, str]) -> Sequence[OperationRequest]:
    """``requests``, each of a message sent before currencies given its wallet's."""
    if all(r.currency is not None for r in requests):
        return requests
    return [
        replace(r, currency=currencies[r.wallet_id]) if r.currency is None and r.wallet_id in currencies else r
        for r in requests
    ]


def _ledger_write(
    conn: Connection,
    rows: list[dict[str, Any]],
    events: EventBook,
    balances: dict[str, list[Any]] | None = None,
    controls: dict[str, list[Any]] | None = None,
) -> None:
    """Insert new ledger rows and the events they are, and set the wallets' new ``balances``
    (``_SET_BALANCES``'s arrays), in one statement; unless an event shows its row's number (a
    hold's, a wallet update's do): then the rows first, numbered, and the rest after. New
    ``controls`` (``_SET_CONTROLS``'s arrays) are set by a statement of their own."""
    statements: list[str] = []
    params: dict[str, Any] = {}
    if rows and events.numbered:
        found = conn.exec_driver_sql(LEDGER_INSERT, ledger_columns(rows))
        statements.append(EVENTS_INSERT)
        params.update(events.columns({row.id: (row.seq, row.applied_at) for row in found}))
    elif rows:
        statements.append(LEDGER_INSERT)
        params.update(ledger_columns(rows))
        if events.decided:  # its time is the statement's: its rows' applied_at
            statements.append(EVENTS_INSERT)
            params.update(events.columns())
    if balances is not None:
        statements.append(_SET_BALANCES)
        params.update(balances)
    if statements:
        conn.exec_driver_sql(_chained(statements), params)
    if controls is not None:  # rare; and one statement may not update a row twice (its balance)
        conn.exec_driver_sql(_SET_CONTROLS, controls)


def _chained(statements: list[str]) -> str:
    """Statements on different tables as one round trip: each but the last in a ``WITH``
    (PostgreSQL runs every one of them once, whether or not its output is read)."""
    *first, last = statements
    if not first:
        return last
    return "WITH " + ", ".join(f"step{i} AS ({sql})" for i, sql in enumerate(first)) + " " + last


def _transaction_time(conn: Connection) -> datetime:
    """``now()``, for a batch that locked no wallet (its operations name none that exists)."""
    moment: datetime = conn.execute(select(func.now())).scalar_one()
    return moment


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
    (request,) = _with_currencies([request], {request.wallet_id: balance.currency})
    result = OperationResult(
        request.operation_id, OperationStatus.REJECTED, balance.balance, rejection.value, balance.held
    )
    if request.starts_transfer:
        book = TransferBook.load(conn, [request], shard_count=shard_count)
        book.opened(request, rejection, balance.currency)  # a refused debit: failed, nothing moved
        book.write_new(conn)
    # A refused hold is no hold; a change names its hold if the hold exists.
    hold_id = None if request.operation_type.kind.makes_hold else request.hold_id
    if hold_id is not None and conn.execute(select(holds.c.id).where(holds.c.id == hold_id)).first() is None:
        hold_id = None
    row = ledger_row(
        request,
        result,
        balance_after=balance.balance,
        held_after=balance.held,
        hold_id=hold_id,
        currency=balance.currency,
    )
    events = EventBook(balance.now, {request.wallet_id: balance.tenant_id}, {})  # a refusal shows no wallet
    events.record(row, HoldBook(shard_count, None, {}))  # a refusal is never a hold's event
    _ledger_write(conn, [row], events)
    return result
