"""Wallets, their operations and history: ``/api/v1/wallets...`` and ``/api/v1/operations/<id>``."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse

from shared.config import get_settings
from shared.connections import get_redis
from shared.errors import NotFound
from shared.ledger import LedgerRecord
from shared.money import format_money
from shared.operations import REVERSAL_OF, OperationType
from shared.outcomes import OperationStatus, Rejection, ledger_error_fields
from shared.rates import Limit
from shared.resources import operation_json, wallet_json
from shared.rq_contract import JobState, job_state
from web.wallets.api import parsing, queries
from web.wallets.api.resources import money_at_json
from web.wallets.api.responses import (
    api_view,
    json_response,
    replay_marked,
)
from web.wallets.api.views.common import (
    WALLET_NOT_FOUND,
    accepted_response,
    applied_json,
    json_body,
    pending_json,
    reachable,
    rejection_response,
    write_context,
)
from web.wallets.auth import rate_limits
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import OPERATION_NOT_FOUND, OPERATION_REJECTED
from web.wallets.money.history import wallet_money_at
from web.wallets.money.reversals import operation_reversal_submit
from web.wallets.money.selectors import (
    operation_by_key_get,
    operation_get,
    operation_reversed_get,
    pending_get,
    wallet_after,
    wallet_balance_get,
)
from web.wallets.money.services import Submission, operation_submit, wallet_create, wallet_update
from web.wallets.ops import metrics


@api_view("POST")
def wallet_create_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    caller.require_write()
    settings = get_settings()
    wallet_input = parsing.parse_wallet(json_body(request), default_currency=settings.default_currency)
    rate_limits.spend(get_redis(), rate_limits.counted(caller, settings, Limit.WALLETS))
    wallet = wallet_create(caller=caller, wallet=wallet_input)
    made = wallet_json(wallet.id, Decimal(0), Decimal(0), wallet.currency, wallet.controls, wallet.annotations)
    return json_response(made, status=201)


@api_view("GET", "PATCH")
def wallet_detail_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    if request.method == "PATCH":
        return _wallet_change(request, caller, wallet_uuid)
    return _wallet_shown(request, wallet_uuid, caller)


def _wallet_shown(request: HttpRequest, wallet_id: UUID, caller: Caller) -> HttpResponse:
    values = queries.single_values(request.GET, (queries.AT,))
    if queries.AT in values:
        at = queries.past_instant(queries.AT, values[queries.AT])
        return json_response(money_at_json(wallet_id, at, wallet_money_at(wallet_id=wallet_id, caller=caller, at=at)))
    money = wallet_balance_get(wallet_id=wallet_id, caller=caller)
    return json_response(
        wallet_json(wallet_id, money.balance, money.held, money.currency, money.controls, money.annotations)
    )


def _wallet_change(request: HttpRequest, caller: Caller, wallet_id: UUID) -> HttpResponse:
    """A change of the wallet's limits, status or metadata, applied by its writer: answered with
    the wallet right after it, as its ledger row and the changes before it say (so a replay of its
    key answers the same); 202 while it is not applied yet, the writer's refusal as an error."""
    started = time.perf_counter()
    caller.require_write()
    change = parsing.parse_wallet_change(json_body(request))
    submission = wallet_update(wallet_id=wallet_id, change=change, context=write_context(request, caller))
    metrics.record(OperationType.WALLET_UPDATE, submission.result, time.perf_counter() - started)
    result = submission.result
    if result is None or result.status is OperationStatus.REJECTED:
        return replay_marked(_operation_response(submission), submission.replayed)
    assert result.balance_after is not None
    controls, annotations = wallet_after(wallet_id=wallet_id, operation_id=result.operation_id)
    after = wallet_json(wallet_id, result.balance_after, result.held_after, submission.currency, controls, annotations)
    return replay_marked(json_response(after), submission.replayed)


@api_view("POST")
def wallet_operation_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    started = time.perf_counter()
    caller.require_write()
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    operation = parsing.parse_operation(json_body(request))
    submission = operation_submit(wallet_id=wallet_uuid, operation=operation, context=write_context(request, caller))
    metrics.record(operation.operation_type, submission.result, time.perf_counter() - started)
    return replay_marked(_operation_response(submission), submission.replayed)


@api_view("POST")
def operation_reversal_view(request: HttpRequest, caller: Caller, operation_id: str) -> HttpResponse:
    """Reverse an applied deposit or withdrawal, all that is left of it or ``amount``; answered
    as an operation (the reversal is one)."""
    started = time.perf_counter()
    caller.require_write()
    operation_uuid = parsing.parse_uuid(operation_id, not_found=OPERATION_NOT_FOUND)
    reversal = parsing.parse_partial(json_body(request))
    kind, submission = operation_reversal_submit(
        operation_id=operation_uuid, reversal=reversal, context=write_context(request, caller)
    )
    metrics.record(kind, submission.result, time.perf_counter() - started)
    return replay_marked(_operation_response(submission), submission.replayed)


def _operation_response(submission: Submission) -> HttpResponse:
    operation_id = str(submission.operation_id)
    result = submission.result
    if result is None:
        return accepted_response(f"/api/v1/operations/{operation_id}", operation_id=operation_id)
    if result.status is OperationStatus.REJECTED:
        return rejection_response(result, OPERATION_REJECTED)
    return json_response(applied_json(result, submission.currency))


@api_view("GET")
def operation_detail_view(request: HttpRequest, caller: Caller, operation_id: str) -> HttpResponse:
    operation_uuid = parsing.parse_uuid(operation_id, not_found=OPERATION_NOT_FOUND)
    row = operation_get(operation_id=operation_uuid)
    if row is not None:
        reachable(caller, row.wallet_id)
        return json_response(_operation_body(row))
    pending = pending_get(operation_id=operation_uuid)
    if pending is not None:
        reachable(caller, pending.wallet_id)
        if pending.idempotency_key is not None:
            # A keyed request may have become the operation its key first named.
            row = operation_by_key_get(wallet_id=pending.wallet_id, idempotency_key=pending.idempotency_key)
        if row is None:
            row = operation_get(operation_id=operation_uuid)  # decided since the first read?
        if row is not None:
            return json_response(_operation_body(row))
        return pending_json(operation_uuid)
    job = job_state(connection=get_redis(), operation_id=operation_uuid)
    if job.wallet_id is not None:
        reachable(caller, job.wallet_id)
    elif job.state is not JobState.UNKNOWN and not caller.reaches(None):
        raise NotFound(OPERATION_NOT_FOUND)  # a job whose wallet is unreadable is nobody's
    if job.state is JobState.PENDING:
        return pending_json(operation_uuid)
    # The job may have finished between the two reads: the ledger is the answer.
    row = operation_get(operation_id=operation_uuid)
    if row is not None:
        reachable(caller, row.wallet_id)
        return json_response(_operation_body(row))
    if job.state is JobState.FAILED:
        return json_response(
            {
                "operation_id": str(operation_uuid),
                "status": OperationStatus.REJECTED.value,
                **ledger_error_fields(Rejection.UNPROCESSABLE.value),
            }
        )
    raise NotFound(OPERATION_NOT_FOUND)


def _operation_body(row: LedgerRecord) -> dict[str, Any]:
    """An operation's status: its ledger row, and for a deposit or withdrawal the money of its
    reversals (``reversed_amount``)."""
    body = operation_json(row)
    if row.operation_type in REVERSAL_OF:
        body["reversed_amount"] = format_money(operation_reversed_get(operation_id=row.id), row.currency)
    return body
