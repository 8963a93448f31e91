"""Transfers between two wallets: ``/api/v1/transfers``."""

from __future__ import annotations

import time
from decimal import Decimal

from django.http import HttpRequest, HttpResponse

from shared.errors import NotFound
from shared.money import format_money
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.resources import transfer_json
from shared.transfers import TransferState
from web.wallets.api import parsing
from web.wallets.api.resources import transfer_pending_json
from web.wallets.api.responses import (
    api_view,
    json_response,
    replay_marked,
)
from web.wallets.api.views.common import (
    accepted_response,
    json_body,
    reachable,
    rejection_response,
    write_context,
)
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import (
    TRANSFER_NOT_FOUND,
    error_fields,
)
from web.wallets.money.reversals import transfer_reversal_submit
from web.wallets.money.selectors import (
    operation_by_key_get,
    pending_get,
    transfer_get,
    transfer_reversed_get,
)
from web.wallets.money.transfers import TransferAnswer, transfer_submit
from web.wallets.ops import metrics


@api_view("POST")
def transfer_create_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    started = time.perf_counter()
    caller.require_write()
    transfer = parsing.parse_transfer(json_body(request))
    answer = transfer_submit(transfer=transfer, context=write_context(request, caller))
    metrics.transfer_record(answer.state, time.perf_counter() - started)
    return replay_marked(_transfer_response(answer), answer.replayed)


@api_view("POST")
def transfer_reversal_view(request: HttpRequest, caller: Caller, transfer_id: str) -> HttpResponse:
    """Send the money of a completed transfer (all that is left of it, or ``amount``) back from
    its destination to its source; answered as a transfer (the reversal is one)."""
    started = time.perf_counter()
    caller.require_write()
    transfer_uuid = parsing.parse_uuid(transfer_id, not_found=TRANSFER_NOT_FOUND)
    reversal = parsing.parse_partial(json_body(request))
    answer = transfer_reversal_submit(
        transfer_id=transfer_uuid, reversal=reversal, context=write_context(request, caller)
    )
    metrics.transfer_record(answer.state, time.perf_counter() - started)
    return replay_marked(_transfer_response(answer), answer.replayed)


def _transfer_response(answer: TransferAnswer) -> HttpResponse:
    transfer_id = str(answer.transfer_id)
    debit, credit, refund = answer.debit, answer.credit, answer.refund
    if debit is not None and debit.status is OperationStatus.REJECTED:
        return rejection_response(debit, "Transfer rejected")
    if answer.state is TransferState.COMPLETED:
        assert debit is not None
        assert credit is not None
        return json_response(
            {
                "status": "Success",
                "transfer_id": transfer_id,
                "state": TransferState.COMPLETED.value,
                "currency": answer.currency,
                "from_balance": format_money(debit.balance_after or Decimal(0), answer.currency),
                "to_balance": format_money(credit.balance_after or Decimal(0), answer.currency),
            }
        )
    if answer.state is TransferState.FAILED:  # the destination refused the credit; refunded
        assert credit is not None
        assert refund is not None
        error = credit.error or "Transfer failed"
        body = {**error_fields(error, 400), "transfer_id": transfer_id, "state": answer.state.value}
        return json_response(body, status=400)
    return accepted_response(
        f"/api/v1/transfers/{transfer_id}", transfer_id=transfer_id, state=TransferState.PENDING.value
    )


@api_view("GET")
def transfer_detail_view(request: HttpRequest, caller: Caller, transfer_id: str) -> HttpResponse:
    transfer_uuid = parsing.parse_uuid(transfer_id, not_found=TRANSFER_NOT_FOUND)
    row = transfer_get(transfer_id=transfer_uuid)
    if row is None:
        # Answered 202 before its debit was decided: the web recorded it as pending.
        pending = pending_get(operation_id=transfer_uuid)
        if pending is None or pending.operation_type is not OperationType.TRANSFER_OUT:
            raise NotFound(TRANSFER_NOT_FOUND)
        reachable(caller, pending.wallet_id, TRANSFER_NOT_FOUND)
        row = transfer_get(transfer_id=transfer_uuid)  # decided since the first read?
        if row is None and pending.idempotency_key is not None:
            # A keyed request may have become the transfer its key first named.
            keyed = operation_by_key_get(wallet_id=pending.wallet_id, idempotency_key=pending.idempotency_key)
            if keyed is not None and keyed.operation_type is OperationType.TRANSFER_OUT:
                row = transfer_get(transfer_id=keyed.id)
        if row is None:
            return json_response(transfer_pending_json(transfer_uuid))
    reachable(caller, row.from_wallet, TRANSFER_NOT_FOUND)
    body = transfer_json(row)
    if row.reversal_of is None:  # a reversal is not reversed
        body["reversed_amount"] = format_money(transfer_reversed_get(transfer_id=row.id), row.currency)
    return json_response(body)
