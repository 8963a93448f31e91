"""A bulk request: many deposits and withdrawals in one request, each applied as a single one is.

Every operation is checked (its fields, its wallet, its amount in the wallet's currency) before
anything is queued, and the request's rate limits are counted once for all of them, so a bad
operation or a refusal queues nothing. Then each shard's operations go to its queue in the
request's order, with their Idempotency-Key records (``queueing.requests_send``), and their
answers are waited for together. It is not atomic: each operation is applied or rejected by its
wallet's writer on its own, exactly once, and a wallet's operations in the request's order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from shared.errors import InvalidRequest, OutcomeUnknown, RequestError, Unprocessable
from shared.messages import OperationRequest
from shared.outcomes import Rejection
from shared.rates import Limit
from web.wallets.auth import rate_limits
from web.wallets.inputs import BulkItem
from web.wallets.money.idempotency import KeyClaim, claim_parse
from web.wallets.money.queueing import Delivery, requests_send
from web.wallets.money.selectors import operations_by_keys_get, wallets_reachable
from web.wallets.money.services import (
    REPLAY_POLL,
    Submission,
    WriteContext,
    key_claimed,
    operation_request,
    pending_records,
    replay_of,
)

BulkOutcome = Submission | RequestError
"""What became of one operation of a bulk request: its submission (applied, rejected, or not
known yet), or why it was refused without being queued (its Idempotency-Key was used for
another request)."""


def bulk_submit(*, items: Sequence[BulkItem], context: WriteContext) -> list[BulkOutcome]:
    """Queue ``items`` on their wallets' shards and wait for their answers (``REPLY_TIMEOUT`` in
    all): one outcome per item, in order. ``InvalidRequest`` naming the item's ``index`` if one
    names a wallet the caller does not reach or an amount its currency does not take;
    ``RateLimited`` over a limit (each item is one write, each keyed one a keyed request):
    nothing is queued then."""
    requests = _requests_of(items, context)
    keyed = sum(1 for request in requests if request.idempotency_key is not None)
    limits = [
        replace(c, cost=len(requests) if c.limit is Limit.WRITES else keyed)
        for c in rate_limits.counted(context.caller, context.settings, Limit.WRITES, Limit.IDEMPOTENCY_KEYS)
        if c.limit is Limit.WRITES or keyed
    ]
    rate_limits.costs_within_rates(limits)
    rate_limits.spend(context.connection, limits)
    claimed = [key_claimed(r, context.settings.idempotency_ttl) for r in requests]
    claims = {i: pair[0] for i, pair in enumerate(claimed) if pair is not None}
    sends = [(r, None if pair is None else pair[1]) for r, pair in zip(requests, claimed, strict=True)]
    try:
        deliveries = requests_send(
            connection=context.connection, settings=context.settings, sends=sends, wait=context.settings.reply_timeout
        )
    except OutcomeUnknown:
        deliveries = [Delivery(result=None)] * len(requests)
    submitted: dict[int, Submission] = {}
    taken: dict[int, KeyClaim] = {}
    for index, (request, delivery) in enumerate(zip(requests, deliveries, strict=True)):
        if delivery.earlier is not None:
            taken[index] = claim_parse(delivery.earlier)
            continue
        currency = request.currency
        assert currency is not None
        submitted[index] = Submission(request.operation_id, delivery.result, currency)
    unanswered = [requests[i] for i, submission in submitted.items() if submission.result is None]
    pending_records(requests=unanswered, settings=context.settings)
    replayed = _replays(requests, claims, taken, context.settings.reply_timeout)
    outcomes: dict[int, BulkOutcome] = {**submitted, **replayed}
    return [outcomes[index] for index in range(len(requests))]


def _requests_of(items: Sequence[BulkItem], context: WriteContext) -> list[OperationRequest]:
    caller = context.caller
    wallets = wallets_reachable(wallet_ids={item.wallet_id for item in items}, caller=caller)
    now = datetime.now(UTC)
    requests: list[OperationRequest] = []
    for index, item in enumerate(items):
        try:
            wallet = wallets.get(item.wallet_id)
            if wallet is None:
                raise InvalidRequest(Rejection.WALLET_NOT_FOUND.value)
            request = operation_request(
                wallet_id=item.wallet_id,
                wallet=wallet,
                operation=item.operation,
                idempotency_key=item.idempotency_key,
                caller=caller,
                at=now,
            )
        except RequestError as exc:
            exc.index = index
            raise
        requests.append(request)
    return requests


def _replays(
    requests: Sequence[OperationRequest], claims: dict[int, KeyClaim], taken: dict[int, KeyClaim], wait: float
) -> dict[int, BulkOutcome]:
    """The outcomes of the items whose Idempotency-Key was taken, as ``operation_replay``
    answers one, read from the ledger together: the key's row replays (or refuses another
    request); while the key's first request is in flight, a different request is refused at
    once and the same one is waited for up to ``wait`` seconds, then answered as not known yet
    with the first request's operation id (its status URL)."""
    outcomes: dict[int, BulkOutcome] = {}
    waiting = dict(taken)
    deadline = time.monotonic() + wait
    while waiting:
        keyed = {index: _key_of(requests[index]) for index in waiting}
        rows = operations_by_keys_get(keyed=list(keyed.values()))
        for index, in_flight in list(waiting.items()):
            fingerprint = claims[index].fingerprint
            row = rows.get(keyed[index])
            try:
                if row is not None:
                    outcomes[index] = replay_of(row, fingerprint)
                elif in_flight.fingerprint != fingerprint:
                    raise Unprocessable(Rejection.IDEMPOTENCY_MISMATCH.value)
                else:
                    continue
            except RequestError as exc:
                outcomes[index] = exc
            del waiting[index]
        if not waiting:
            break
        if time.monotonic() >= deadline:
            for index, in_flight in waiting.items():
                currency = requests[index].currency
                assert currency is not None
                outcomes[index] = Submission(in_flight.operation_id, None, currency, replayed=True)
            break
        time.sleep(REPLAY_POLL)
    return outcomes


def _key_of(request: OperationRequest) -> tuple[UUID, str]:
    assert request.idempotency_key is not None
    return request.wallet_id, request.idempotency_key
