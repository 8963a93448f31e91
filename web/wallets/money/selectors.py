"""Reads. The web node reads PostgreSQL directly, on its bounded pool; only workers write balances.

Every API read is one plain SQL statement on ``web.database`` (an ORM query costs more
to build than to run, and Django's connections are per greenlet under gevent, one new
connection per request). Table and column names are those of ``shared.tables``, which a test
holds equal to the migrations.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from shared.annotations import Annotations, stored_metadata
from shared.errors import NotFound
from shared.holds import HoldState
from shared.ledger import LEDGER_COLUMNS, LedgerRecord
from shared.operations import WALLET_UPDATES, OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.resources import HoldRow, TransferRow
from shared.reversed import operation_reversed, transfer_reversed
from shared.transfers import TransferState, credit_id, refund_id
from shared.wallet_controls import Controls, change_of
from web.database import read_all, read_one
from web.wallets.auth.api_keys import Caller

_BALANCE = (
    "SELECT balance, held, tenant_id, currency, min_balance, max_balance, status, reference, metadata"
    " FROM wallets WHERE id = %s"
)
_KNOWN = "SELECT tenant_id, currency FROM wallets WHERE id = %s"
_KNOWN_MANY = "SELECT id, tenant_id, currency FROM wallets WHERE id = ANY(%s::uuid[])"

_OPERATION_COLUMNS = ", ".join(LEDGER_COLUMNS)
# Built from shared.ledger's constant column list only (no input reaches these strings).
_OPERATION = f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE id = %s"  # noqa: S608
_OPERATION_BY_KEY = f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE wallet_id = %s AND idempotency_key = %s"  # noqa: S608
_OPERATIONS_BY_KEYS = (
    f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations"  # noqa: S608 (constants)
    " WHERE (wallet_id, idempotency_key) IN (SELECT * FROM unnest(%s::uuid[], %s::text[]))"
)
# A wallet's applied changes up to one of its rows, oldest first (by wallet_operations_by_type).
_CHANGES_UNTIL = (
    "SELECT change FROM wallet_operations WHERE wallet_id = %s AND seq <= (SELECT seq FROM wallet_operations"  # noqa: S608 (constants)
    f" WHERE id = %s) AND operation_type IN ({', '.join(repr(t.value) for t in WALLET_UPDATES)})"
    f" AND status = '{OperationStatus.APPLIED.value}' ORDER BY seq"
)
CHANGES_MAX = 100_000
"""Most changes of one wallet read back (far more than any wallet is ever given)."""
_MADE = "SELECT reference, created_metadata FROM wallets WHERE id = %s"
# The money reversed of an operation and of a transfer, as their writers sum it.
_OPERATION_REVERSED = f"SELECT {operation_reversed('%s')}"
_TRANSFER_REVERSED = f"SELECT {transfer_reversed('%s')}"
_PENDING = (
    "SELECT id, wallet_id, idempotency_key, operation_type, amount, reversal_of FROM pending_operations WHERE id = %s"
)
_TRANSFER = (
    "SELECT id, from_wallet_id, to_wallet_id, amount, state, error, created_at, updated_at, currency, reversal_of,"
    " reference, metadata FROM transfers WHERE id = %s"
)
# A transfer's legs by their ids (the debit's is the transfer's; ``shared.transfers``).
_LEGS = f"SELECT {_OPERATION_COLUMNS} FROM wallet_operations WHERE id IN (%s, %s, %s)"  # noqa: S608
_HOLD = (
    "SELECT id, wallet_id, to_wallet_id, amount, captured, state, resolved_by, expires_at, created_at, updated_at,"
    " currency, reference, metadata FROM holds WHERE id = %s"
)
# Built from the states' enums only (no input reaches these strings).
_ACTIVE_HOLDS = (
    "SELECT currency, count(*), sum(amount) FROM holds"  # noqa: S608
    f" WHERE state = '{HoldState.ACTIVE.value}' GROUP BY currency"
)
_PENDING_TRANSFERS = (
    "SELECT currency, count(*), sum(amount), count(*) FILTER (WHERE stalled IS NOT NULL)"  # noqa: S608
    f" FROM transfers WHERE state = '{TransferState.PENDING.value}' GROUP BY currency"
)


@dataclass(frozen=True, slots=True)
class PendingRow:
    """An operation answered 202 and not found in the ledger yet."""

    id: UUID
    wallet_id: UUID
    idempotency_key: str | None
    operation_type: OperationType
    amount: Decimal
    reversal_of: UUID | None


def _tenant_id(value: object) -> str | None:
    return None if value is None else str(value)  # psycopg2 reads a uuid as its text


@dataclass(frozen=True, slots=True)
class Money:
    """A wallet's money: ``balance`` = ``held`` (by active holds) + ``available``, in ``currency``;
    and its ``controls`` (limits and status)."""

    balance: Decimal
    held: Decimal
    currency: str
    controls: Controls
    annotations: Annotations
    """The client's reference and metadata of the wallet."""

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


def wallet_balance_get(*, wallet_id: UUID, caller: Caller) -> Money:
    """The money of a wallet the caller reaches; ``NotFound`` for any other (another
    tenant's wallet answers exactly as one that does not exist)."""
    row = read_one(_BALANCE, (str(wallet_id),))
    if row is None or not caller.reaches(_tenant_id(row[2])):
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    balance, held, _, currency, min_balance, max_balance, status, reference, metadata = row
    controls = Controls.stored(min_balance, max_balance, status)
    return Money(balance, held, currency, controls, Annotations(reference, stored_metadata(metadata)))


def wallet_after(*, wallet_id: UUID, operation_id: UUID) -> tuple[Controls, Annotations]:
    """A wallet's controls and annotations right after its ledger row ``operation_id``: every
    change applied until then, in order, over the wallet as made (the answer to a change, the
    same however often it is replayed)."""
    made = read_one(_MADE, (str(wallet_id),))
    if made is None:
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    reference, metadata = made[0], stored_metadata(made[1])
    controls = Controls()
    for (change,) in read_all(_CHANGES_UNTIL, (str(wallet_id), str(operation_id)), CHANGES_MAX):
        applied = change_of(change)
        if applied is not None:
            controls = applied.applied_to(controls)
            metadata = applied.metadata_after(metadata)
    return controls, Annotations(reference, metadata)


@dataclass(frozen=True, slots=True)
class KnownWallet:
    """What never changes of a wallet: its tenant (None: made with ``API_AUTH=off``) and its currency."""

    tenant_id: str | None
    currency: str


KNOWN_WALLETS_CACHED = 100_000
"""Wallet ids a web process remembers the tenant and currency of (about 30 MB at most)."""


@lru_cache(maxsize=KNOWN_WALLETS_CACHED)
def _wallet_known(wallet_id: UUID) -> KnownWallet:
    # Only existing wallets are cached (a miss raises); a wallet is never deleted (PROTECT
    # foreign key, no delete in the admin or the API), moved to another tenant, nor given
    # another currency.
    row = read_one(_KNOWN, (str(wallet_id),))
    if row is None:
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    return KnownWallet(_tenant_id(row[0]), row[1])


def wallet_tenant_get(*, wallet_id: UUID) -> str | None:
    """The tenant a wallet belongs to (None: made with ``API_AUTH=off``), or ``NotFound``;
    a known wallet costs no query."""
    return _wallet_known(wallet_id).tenant_id


def wallet_ensure_reachable(
    *, wallet_id: UUID, caller: Caller, not_found: str = Rejection.WALLET_NOT_FOUND.value
) -> KnownWallet:
    """The wallet, if it exists and is the caller's tenant's; else ``NotFound(not_found)``: what
    a wallet the caller does not reach holds (an operation, a transfer, a hold) is not found,
    like one that does not exist. A known wallet costs no query."""
    try:
        wallet = _wallet_known(wallet_id)
    except NotFound:
        raise NotFound(not_found) from None
    if not caller.reaches(wallet.tenant_id):
        raise NotFound(not_found)
    return wallet


def wallets_reachable(*, wallet_ids: Collection[UUID], caller: Caller) -> dict[UUID, KnownWallet]:
    """Those of ``wallet_ids`` that exist and are the caller's tenant's, in one query (the many
    wallets of a bulk request: not read one by one through the cache)."""
    rows = read_all(_KNOWN_MANY, ([str(w) for w in wallet_ids],), len(wallet_ids))
    known = {UUID(str(row[0])): KnownWallet(_tenant_id(row[1]), row[2]) for row in rows}
    return {wallet_id: wallet for wallet_id, wallet in known.items() if caller.reaches(wallet.tenant_id)}


def operation_get(*, operation_id: UUID) -> LedgerRecord | None:
    row = read_one(_OPERATION, (str(operation_id),))
    return None if row is None else LedgerRecord.from_values(row)


def operation_by_key_get(*, wallet_id: UUID, idempotency_key: str) -> LedgerRecord | None:
    """The ledger row an Idempotency-Key of a wallet names, for good, if it was decided."""
    row = read_one(_OPERATION_BY_KEY, (str(wallet_id), idempotency_key))
    return None if row is None else LedgerRecord.from_values(row)


def operations_by_keys_get(*, keyed: Collection[tuple[UUID, str]]) -> dict[tuple[UUID, str], LedgerRecord]:
    """The ledger rows the Idempotency-Keys ``keyed`` (wallet, key) name, of those decided."""
    wallet_ids, idempotency_keys = [str(w) for w, _ in keyed], [k for _, k in keyed]
    rows = read_all(_OPERATIONS_BY_KEYS, (wallet_ids, idempotency_keys), len(keyed))
    records = [LedgerRecord.from_values(row) for row in rows]
    return {(r.wallet_id, r.idempotency_key): r for r in records if r.idempotency_key is not None}


def operation_reversed_get(*, operation_id: UUID) -> Decimal:
    """The money of an operation's applied reversals."""
    row = read_one(_OPERATION_REVERSED, (str(operation_id),))
    assert row is not None  # an aggregate has a row
    return Decimal(row[0])


def transfer_reversed_get(*, transfer_id: UUID) -> Decimal:
    """The money of the transfers reversing a transfer, but those that failed (a pending one
    counts until it is refunded)."""
    row = read_one(_TRANSFER_REVERSED, (str(transfer_id),))
    assert row is not None  # an aggregate has a row
    return Decimal(row[0])


def pending_get(*, operation_id: UUID) -> PendingRow | None:
    row = read_one(_PENDING, (str(operation_id),))
    if row is None:
        return None
    return PendingRow(UUID(str(row[0])), UUID(str(row[1])), row[2], OperationType(row[3]), row[4], _uuid(row[5]))


def transfer_get(*, transfer_id: UUID) -> TransferRow | None:
    """A transfer the worker of its source has decided (None before that), with its legs."""
    row = read_one(_TRANSFER, (str(transfer_id),))
    if row is None:
        return None
    ids = (transfer_id, credit_id(transfer_id), refund_id(transfer_id))
    legs = {leg.id: leg for leg in map(LedgerRecord.from_values, read_all(_LEGS, tuple(map(str, ids)), 3))}
    id_, from_wallet, to_wallet, amount, state, error, created_at, updated_at, currency, reversal_of, *annotated = row
    return TransferRow(
        UUID(str(id_)),
        UUID(str(from_wallet)),
        UUID(str(to_wallet)),
        amount,
        TransferState(str(state)),
        error,
        created_at,
        updated_at,
        legs.get(ids[0]),
        legs.get(ids[1]),
        legs.get(ids[2]),
        currency,
        _uuid(reversal_of),
        annotated[0],
        stored_metadata(annotated[1]),
    )


@dataclass(frozen=True, slots=True)
class MoneyInFlight:
    """How many records (pending transfers, active holds) there are, and their money in each
    currency (never summed across currencies)."""

    count: int
    amounts: dict[str, Decimal]
    stalled: int = 0
    """Of pending transfers: how many the sweep set aside."""


def transfers_pending_get() -> MoneyInFlight:
    """How many transfers are pending, their money, and how many of them the sweep set aside
    (for ``/metrics``)."""
    rows = read_all(_PENDING_TRANSFERS, (), 1000)
    return MoneyInFlight(
        sum(int(row[1]) for row in rows),
        {row[0]: Decimal(row[2]) for row in rows},
        sum(int(row[3]) for row in rows),
    )


def _uuid(value: object) -> UUID | None:
    return None if value is None else UUID(str(value))


def hold_get(*, hold_id: UUID) -> HoldRow | None:
    row = read_one(_HOLD, (str(hold_id),))
    if row is None:
        return None
    id_, wallet_id, to_wallet_id, amount, captured, state, resolved_by, expires_at, created_at, updated_at, *rest = row
    currency, reference, metadata = rest
    return HoldRow(
        UUID(str(id_)),
        UUID(str(wallet_id)),
        _uuid(to_wallet_id),
        amount,
        captured,
        state,
        _uuid(resolved_by),
        expires_at,
        created_at,
        updated_at,
        currency,
        reference,
        stored_metadata(metadata),
    )


def holds_active_get() -> MoneyInFlight:
    """How many holds are active, and their money (for ``/metrics``)."""
    rows = read_all(_ACTIVE_HOLDS, (), 1000)
    return MoneyInFlight(sum(int(row[1]) for row in rows), {row[0]: Decimal(row[2]) for row in rows})
