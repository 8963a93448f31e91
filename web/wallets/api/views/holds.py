"""Holds and their capture or void: ``/api/v1/wallets/<id>/holds`` and ``/api/v1/holds/<id>``."""

from __future__ import annotations

import time
from uuid import UUID

from django.http import HttpRequest, HttpResponse

from shared.errors import NotFound
from shared.holds import REFUSED_AS, HoldState
from shared.money import format_money
from shared.operations import OperationType
from shared.outcomes import OperationStatus, ledger_error_fields
from shared.resources import hold_json, moment_json
from shared.transfers import TransferState
from web.wallets.api import parsing
from web.wallets.api.responses import (
    api_view,
    json_response,
    replay_marked,
)
from web.wallets.api.views.common import (
    WALLET_NOT_FOUND,
    accepted_response,
    json_body,
    reachable,
    rejection_response,
    write_context,
)
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import error_fields
from web.wallets.inputs import PartialInput
from web.wallets.money.holds import HOLD_NOT_FOUND, ChangeAnswer, HoldAnswer, hold_change_submit, hold_submit
from web.wallets.money.selectors import (
    hold_get,
    operation_get,
    pending_get,
)
from web.wallets.ops import metrics

HOLD_STATE_OF = {rejection: state for state, rejection in REFUSED_AS.items()}
"""The state a refused change of a hold found it in (answered 409)."""


@api_view("POST")
def hold_create_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    started = time.perf_counter()
    caller.require_write()
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    hold = parsing.parse_hold(json_body(request), wallet_id=wallet_uuid)
    answer = hold_submit(wallet_id=wallet_uuid, hold=hold, context=write_context(request, caller))
    metrics.record(OperationType.HOLD, answer.result, time.perf_counter() - started)
    return replay_marked(_hold_response(answer), answer.replayed)


def _hold_response(answer: HoldAnswer) -> HttpResponse:
    result = answer.result
    hold_id = str(answer.hold_id)
    if result is None:
        return accepted_response(f"/api/v1/holds/{hold_id}", hold_id=hold_id, state="pending")
    if result.status is OperationStatus.REJECTED:
        return rejection_response(result, "Hold rejected")
    assert result.balance_after is not None
    return json_response(
        {
            "hold_id": hold_id,
            "state": HoldState.ACTIVE.value,
            "amount": format_money(answer.amount, answer.currency),
            "currency": answer.currency,
            "expires_at": moment_json(answer.expires_at),
            "available": format_money(result.balance_after - result.held_after, answer.currency),
            "held": format_money(result.held_after, answer.currency),
            "balance": format_money(result.balance_after, answer.currency),
        },
        status=201,
        Location=f"/api/v1/holds/{hold_id}",
    )


@api_view("GET")
def hold_detail_view(request: HttpRequest, caller: Caller, hold_id: str) -> HttpResponse:
    hold_uuid = parsing.parse_uuid(hold_id, not_found=HOLD_NOT_FOUND)
    row = hold_get(hold_id=hold_uuid)
    if row is not None:
        reachable(caller, row.wallet_id, HOLD_NOT_FOUND)
        return json_response(hold_json(row))
    # Answered 202, or refused: the ledger or the web's pending record knows it.
    ledger = operation_get(operation_id=hold_uuid)
    known = ledger or pending_get(operation_id=hold_uuid)
    if known is None or known.operation_type is not OperationType.HOLD:
        raise NotFound(HOLD_NOT_FOUND)
    reachable(caller, known.wallet_id, HOLD_NOT_FOUND)
    row = hold_get(hold_id=hold_uuid)  # made since the first read?
    if row is not None:
        return json_response(hold_json(row))
    ledger = ledger or operation_get(operation_id=hold_uuid)
    if ledger is not None:  # refused: never held anything
        return json_response({"hold_id": hold_id, "state": "rejected", **ledger_error_fields(ledger.error)})
    return json_response({"hold_id": hold_id, "state": "pending"})


@api_view("POST")
def hold_capture_view(request: HttpRequest, caller: Caller, hold_id: str) -> HttpResponse:
    caller.require_write()
    hold_uuid = parsing.parse_uuid(hold_id, not_found=HOLD_NOT_FOUND)
    return _hold_change(
        request, caller, hold_uuid, OperationType.HOLD_CAPTURE, parsing.parse_partial(json_body(request))
    )


@api_view("POST")
def hold_void_view(request: HttpRequest, caller: Caller, hold_id: str) -> HttpResponse:
    caller.require_write()
    hold_uuid = parsing.parse_uuid(hold_id, not_found=HOLD_NOT_FOUND)
    return _hold_change(request, caller, hold_uuid, OperationType.HOLD_VOID, parsing.parse_void(json_body(request)))


def _hold_change(
    request: HttpRequest, caller: Caller, hold_id: UUID, kind: OperationType, change: PartialInput
) -> HttpResponse:
    started = time.perf_counter()
    answer = hold_change_submit(hold_id=hold_id, kind=kind, change=change, context=write_context(request, caller))
    metrics.record(kind, answer.result, time.perf_counter() - started)
    return replay_marked(_change_response(answer, hold_id), answer.replayed)


def _change_response(answer: ChangeAnswer, hold_id: UUID) -> HttpResponse:
    result, kind, transfer = answer.result, answer.kind, answer.transfer
    if result is None or (transfer is not None and transfer.state is TransferState.PENDING):
        # Not decided in time, or captured to a wallet not credited yet: retry with the key.
        location = f"/api/v1/holds/{hold_id}"
        if transfer is None:
            return accepted_response(location, hold_id=str(hold_id))
        return accepted_response(location, hold_id=str(hold_id), transfer_id=str(transfer.transfer_id))
    if result.status is OperationStatus.REJECTED:
        rejection = result.rejection
        state = HOLD_STATE_OF.get(rejection) if rejection is not None else None
        if state is not None:
            error = result.error or state.value
            resolved = {**error_fields(error, 409), "hold_id": str(hold_id), "state": state.value}
            return json_response(resolved, status=409)
        return rejection_response(result, "Hold change rejected")
    assert result.balance_after is not None
    currency = answer.hold.currency
    body: dict[str, object] = {"status": "Success", "hold_id": str(hold_id), "operation_id": str(result.operation_id)}
    if kind is OperationType.HOLD_CAPTURE:
        body |= {
            "state": HoldState.CAPTURED.value,
            "captured": format_money(answer.amount, currency),
            "released": format_money(answer.hold.amount - answer.amount, currency),
        }
    else:
        body |= {"state": HoldState.VOIDED.value, "released": format_money(answer.amount, currency)}
    body |= {
        "currency": currency,
        "balance": format_money(result.balance_after, currency),
        "available": format_money(result.balance_after - result.held_after, currency),
        "held": format_money(result.held_after, currency),
    }
    if transfer is not None:  # completed; or failed: the destination refused, the money came back
        body |= {"transfer_id": str(transfer.transfer_id), "transfer_state": transfer.state.value}
    return json_response(body)
