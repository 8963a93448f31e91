"""Writes, as the web node sees them: create a wallet, submit an operation to its shard.

The life of an operation with an ``Idempotency-Key`` is all here: the key's Redis record is
claimed together with the enqueue (``queueing.operation_send``); a key already taken is
answered from the ledger, which names the key's operation for good, or, while that one is in
flight, waited for (then 409).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import redis

from shared.annotations import Annotations
from shared.config import Settings
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OutcomeUnknown,
    ServiceUnavailable,
    StatementRefused,
    Unprocessable,
)
from shared.events import EventType, event_id
from shared.ledger import PENDING_COLUMNS, LedgerRecord, pending_values
from shared.messages import OperationRequest, OperationResult, request_identity
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.resources import uuid_text, wallet_json
from shared.sharding import shard_for
from shared.wallet_controls import Controls, WalletChange
from web.database import read_one, write
from web.wallets.auth.api_keys import Caller
from web.wallets.auth.rate_limits import Counted
from web.wallets.error_codes import IN_FLIGHT, WALLET_QUOTA
from web.wallets.inputs import OperationInput, WalletInput
from web.wallets.money.currencies import amount_in, limits_in
from web.wallets.money.idempotency import KeyClaim, claim_parse, idempotency_record, request_fingerprint
from web.wallets.money.queueing import KeyRecord, operation_send
from web.wallets.money.selectors import (
    KnownWallet,
    operation_by_key_get,
    wallet_ensure_reachable,
    wallet_tenant_get,
)

log = logging.getLogger(__name__)

REPLAY_POLL = 0.02
"""Seconds between ledger reads while a replayed key's first request is in flight."""

# Each in one statement, so one transaction: the wallet, the ledger row of its limits if it
# has any (WALLET_UPDATE, as a later change would be), and its wallet.created event. Built
# from constants only (no input reaches these strings).
_WALLET_LIMITS = (
    "limits AS (INSERT INTO wallet_operations"  # noqa: S608 (constants)
    " (id, wallet_id, operation_type, amount, status, balance_after, held_after, api_key_id, created_at,"
    f" currency, change) SELECT %s, id, '{OperationType.WALLET_UPDATE.value}', 0,"
    f" '{OperationStatus.APPLIED.value}', 0, 0, %s, now(), currency, c.change"
    " FROM wallet, (SELECT %s::jsonb AS change) c WHERE c.change IS NOT NULL)"
)
_WALLET_CREATED = (
    "INSERT INTO events (id, type, tenant_id, wallet_id, data) SELECT %s, %s, tenant_id, id, %s FROM wallet"
)
_WALLET_INSERT = (
    "WITH wallet AS (INSERT INTO wallets"  # noqa: S608 (constants)
    " (id, currency, min_balance, max_balance, reference, metadata, created_metadata)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO NOTHING RETURNING id, tenant_id, currency), " + _WALLET_LIMITS + " " + _WALLET_CREATED
)
# The tenant's count goes up only with the insert, and never past its limit.
_TENANT_WALLET_INSERT = (
    "WITH quota AS ("  # noqa: S608 (constants only)
    " UPDATE tenants SET wallet_count = wallet_count + 1 WHERE id = %s AND wallet_count < wallet_limit RETURNING id"
    "), wallet AS (INSERT INTO wallets (id, currency, min_balance, max_balance, reference, metadata, created_metadata,"
    " tenant_id) SELECT %s, %s, %s, %s, %s, %s, %s, id FROM quota RETURNING id, tenant_id, currency), "
    + _WALLET_LIMITS
    + " "
    + _WALLET_CREATED
    + " RETURNING wallet_id"
)
_PENDING_ROW = f"(%s{', %s' * len(PENDING_COLUMNS)})"


def _pending_insert(rows: int) -> str:
    """The statement recording ``rows`` pending operations; built from shared.ledger's constant
    column list only (no input reaches it)."""
    return (
        f"INSERT INTO pending_operations (shard, {', '.join(PENDING_COLUMNS)})"  # noqa: S608
        f" VALUES {', '.join([_PENDING_ROW] * rows)} ON CONFLICT (id) DO NOTHING"
    )


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who sends a write and how it travels: the caller, its Idempotency-Key (None: none), the
    Redis client and settings it is sent with, and the rate limits it counts against."""

    caller: Caller
    idempotency_key: str | None
    connection: redis.Redis
    settings: Settings
    limits: Sequence[Counted] = ()


@dataclass(frozen=True, slots=True)
class Submission:
    operation_id: UUID
    result: OperationResult | None
    """The worker's answer, or None when it is not known yet (answered 202)."""
    currency: str
    """The wallet's: the currency of the result's money."""
    replayed: bool = False
    """Answered from the ledger for an Idempotency-Key already used (``Idempotent-Replayed``)."""


@dataclass(frozen=True, slots=True)
class NewWallet:
    id: UUID
    currency: str
    controls: Controls
    annotations: Annotations


def wallet_create(*, caller: Caller, wallet: WalletInput) -> NewWallet:
    """A new empty wallet of the caller's tenant in ``wallet``'s currency, with its limits (a
    ``WALLET_UPDATE`` row, the wallet's first), within the tenant's quota (``Forbidden`` past
    it), and its ``wallet.created`` event; with ``API_AUTH=off``, of no tenant."""
    wallet_id = uuid4()
    controls = Controls() if wallet.limits is None else wallet.limits.applied_to(Controls())
    reference, metadata = wallet.annotations.reference, wallet.annotations.metadata
    metadata_json = None if metadata is None else json.dumps(metadata)
    row = (
        str(wallet_id),
        wallet.currency,
        controls.min_balance,
        controls.max_balance,
        reference,
        metadata_json,
        metadata_json,
    )
    change = None if wallet.limits is None else json.dumps(wallet.limits.to_json())
    limits = (str(uuid4()), uuid_text(caller.key_id), change)
    event = (str(event_id(EventType.WALLET_CREATED, wallet_id)), EventType.WALLET_CREATED.value)
    made = wallet_json(wallet_id, Decimal(0), Decimal(0), wallet.currency, controls, wallet.annotations)
    data = json.dumps(made, separators=(",", ":"))
    if caller.tenant_id is None:
        write(_WALLET_INSERT, (*row, *limits, *event, data))
    elif read_one(_TENANT_WALLET_INSERT, (caller.tenant_id, *row, *limits, *event, data)) is None:
        # Refused, unless a retry after a lost connection finds the first attempt committed.
        try:
            committed = wallet_tenant_get(wallet_id=wallet_id) == caller.tenant_id
        except NotFound:
            committed = False
        if not committed:
            raise Forbidden(WALLET_QUOTA)
    return NewWallet(wallet_id, wallet.currency, controls, wallet.annotations)


def operation_submit(
    *,
    wallet_id: UUID,
    operation: OperationInput,
    context: WriteContext,
) -> Submission:
    """Queue an operation on its wallet's shard and wait for its answer (None after
    ``REPLY_TIMEOUT``: a 202). Over one of its rate ``limits``: ``RateLimited``, nothing queued."""
    wallet = wallet_ensure_reachable(wallet_id=wallet_id, caller=context.caller)
    request = operation_request(
        wallet_id=wallet_id,
        wallet=wallet,
        operation=operation,
        idempotency_key=context.idempotency_key,
        caller=context.caller,
        at=datetime.now(UTC),
    )
    return request_submit(request=request, context=context)


def operation_request(
    *,
    wallet_id: UUID,
    wallet: KnownWallet,
    operation: OperationInput,
    idempotency_key: str | None,
    caller: Caller,
    at: datetime,
) -> OperationRequest:
    """The request of a deposit or withdrawal of a wallet the caller reaches, its amount in the
    wallet's currency (else ``InvalidRequest``)."""
    return OperationRequest(
        operation_id=uuid4(),
        wallet_id=wallet_id,
        operation_type=operation.operation_type,
        amount=amount_in(operation.amount, wallet),
        created_at=at,
        idempotency_key=idempotency_key,
        api_key_id=caller.key_id,
        currency=wallet.currency,
        **operation.annotations.as_fields(),
    )


def wallet_update(*, wallet_id: UUID, change: WalletChange, context: WriteContext) -> Submission:
    """Queue a change of a wallet's controls on its shard (its writer applies it in order with
    the wallet's money) and wait for its answer, as for an operation."""
    wallet = wallet_ensure_reachable(wallet_id=wallet_id, caller=context.caller)
    request = OperationRequest(
        operation_id=uuid4(),
        wallet_id=wallet_id,
        operation_type=OperationType.WALLET_UPDATE,
        amount=Decimal(0),
        created_at=datetime.now(UTC),
        idempotency_key=context.idempotency_key,
        api_key_id=context.caller.key_id,
        currency=wallet.currency,
        change=limits_in(change, wallet.currency),
    )
    return request_submit(request=request, context=context)


def request_submit(*, request: OperationRequest, context: WriteContext) -> Submission:
    """Queue ``request`` (an operation, or a transfer's debit) on its wallet's shard, with its
    Idempotency-Key's record if it has one, and wait for its answer. A key already taken is
    answered from the ledger (``operation_replay``); an answer that did not come is a 202,
    recorded first (``pending_record``)."""
    settings = context.settings
    currency = request.currency
    assert currency is not None  # the web names every request's (its wallet's)
    claimed = key_claimed(request, settings.idempotency_ttl)
    ours, record = claimed if claimed is not None else (None, None)
    try:
        delivery = operation_send(
            connection=context.connection,
            settings=settings,
            request=request,
            wait=settings.reply_timeout,
            record=record,
            limits=context.limits,
        )
    except OutcomeUnknown as exc:
        log.warning("answering 202: %s", exc)
        pending_record(request=request, settings=settings)
        return Submission(operation_id=request.operation_id, result=None, currency=currency)
    if delivery.refused is not None:
        raise delivery.refused
    if delivery.earlier is not None:
        assert request.idempotency_key is not None
        assert ours is not None
        return operation_replay(
            wallet_id=request.wallet_id,
            idempotency_key=request.idempotency_key,
            fingerprint=ours.fingerprint,
            in_flight=claim_parse(delivery.earlier),
            wait=settings.reply_timeout,
        )
    if delivery.result is None:
        pending_record(request=request, settings=settings)
    return Submission(operation_id=request.operation_id, result=delivery.result, currency=currency)


def key_claimed(request: OperationRequest, ttl: int) -> tuple[KeyClaim, KeyRecord] | None:
    """The claim a request makes on its Idempotency-Key (its fingerprint and operation id), and
    the Redis record that stores it for ``ttl`` seconds; None without a key."""
    if request.idempotency_key is None:
        return None
    claim = KeyClaim(request_fingerprint(request.wallet_id, request_identity(request)), request.operation_id)
    record = idempotency_record(wallet_id=request.wallet_id, key=request.idempotency_key, claim=claim, ttl=ttl)
    return claim, record


def pending_record(*, request: OperationRequest, settings: Settings) -> None:
    """Make an operation about to be answered 202 durable: whatever Redis loses, the shard's
    worker applies it from PostgreSQL (``worker.pending``) or finds it decided."""
    pending_records(requests=[request], settings=settings)


def pending_records(*, requests: Sequence[OperationRequest], settings: Settings) -> None:
    """``pending_record`` of each of ``requests``, in one statement."""
    if not requests:
        return
    values = [
        value
        for request in requests
        for value in (shard_for(request.wallet_id, settings.shard_count), *pending_values(request))
    ]
    try:
        write(_pending_insert(len(requests)), tuple(values))
    except (ServiceUnavailable, StatementRefused):
        # Still a 202: the operation may be queued; with PostgreSQL down it is not applied either.
        ids = ", ".join(str(r.operation_id) for r in requests)
        log.error("could not record pending operations %s", ids, exc_info=True)


def _fingerprint_of(row: LedgerRecord) -> str:
    return request_fingerprint(row.wallet_id, request_identity(row))


def replay_of(row: LedgerRecord, fingerprint: str) -> Submission:
    """The answer to a request of ``fingerprint`` whose Idempotency-Key names ``row``: its
    result, or ``Unprocessable`` if the key was used for another request."""
    if _fingerprint_of(row) != fingerprint:
        raise Unprocessable(Rejection.IDEMPOTENCY_MISMATCH.value)
    return Submission(row.id, OperationResult.from_row(row), row.currency, replayed=True)


def operation_replay(
    *, wallet_id: UUID, idempotency_key: str, fingerprint: str, in_flight: KeyClaim, wait: float
) -> Submission:
    """The answer to a request whose Idempotency-Key is taken.

    The ledger decides: once the key's operation is in it, the same request replays its result
    and any other is refused, whatever the Redis record says (it may have been lost and
    rewritten by another request). Until then the record names the request in flight: a
    different one is refused at once, the same one waits up to ``wait`` s, then 409.
    """
    deadline = time.monotonic() + wait
    while True:
        row = operation_by_key_get(wallet_id=wallet_id, idempotency_key=idempotency_key)
        if row is not None:
            return replay_of(row, fingerprint)
        if in_flight.fingerprint != fingerprint:
            raise Unprocessable(Rejection.IDEMPOTENCY_MISMATCH.value)
        if time.monotonic() >= deadline:
            raise Conflict(IN_FLIGHT)
        time.sleep(REPLAY_POLL)
