"""Thin API views: parse input, call a service or selector, shape the JSON."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from shared.config import Limit, get_settings
from shared.connections import get_redis, read_one
from shared.errors import NotFound, ServiceUnavailable
from shared.holds import REFUSED_AS, HoldState
from shared.messages import OperationResult
from shared.money import format_money
from shared.operations import OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.rq_contract import JobState, job_state
from shared.transfers import TransferState
from web.wallets import metrics, parsing, rate_limits
from web.wallets.api_keys import Caller
from web.wallets.error_codes import (
    METRICS_UNAUTHORIZED,
    OPERATION_NOT_FOUND,
    TRANSFER_NOT_FOUND,
    UNAVAILABLE,
    error_fields,
    ledger_error_fields,
)
from web.wallets.holds import ChangeAnswer, HoldAnswer, hold_change_submit, hold_submit
from web.wallets.idempotency import parse_idempotency_key
from web.wallets.openapi import OPENAPI
from web.wallets.readiness import readings_get
from web.wallets.reference import reference_html
from web.wallets.resources import (
    cursor_json,
    hold_json,
    moment_json,
    operation_json,
    transfer_json,
    transfer_pending_json,
)
from web.wallets.responses import (
    api_view,
    error_response,
    json_response,
    outcome_error_response,
    replay_marked,
    served_error_fields,
)
from web.wallets.selectors import (
    hold_get,
    operation_by_key_get,
    operation_get,
    pending_get,
    transfer_get,
    wallet_balance_get,
    wallet_ensure_reachable,
    wallet_history_list,
)
from web.wallets.services import Submission, operation_submit, wallet_create
from web.wallets.transfers import TransferAnswer, transfer_submit

log = logging.getLogger(__name__)

HOLD_NOT_FOUND = Rejection.HOLD_NOT_FOUND.value
HOLD_STATE_OF = {rejection: state for state, rejection in REFUSED_AS.items()}
"""The state a refused change of a hold found it in (answered 409)."""
_HEALTH_PROBE = "SELECT 1 FROM wallets LIMIT 1"
WALLET_NOT_FOUND = Rejection.WALLET_NOT_FOUND.value

REJECTION_STATUS = {
    Rejection.WALLET_NOT_FOUND: 404,
    Rejection.IDEMPOTENCY_MISMATCH: 422,
    Rejection.HOLD_NOT_FOUND: 404,
    **dict.fromkeys(REFUSED_AS.values(), 409),
}
"""HTTP status of a worker's rejection, by its kind; any other rejection is a 400."""


@api_view("POST")
def wallet_create_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    caller.require_write()
    rate_limits.spend(get_redis(), rate_limits.counted(caller, get_settings(), Limit.WALLETS))
    wallet = wallet_create(caller=caller)
    return json_response({"id": str(wallet.id), "balance": format_money(wallet.balance)}, status=201)


@api_view("GET")
def wallet_detail_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    money = wallet_balance_get(wallet_id=parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND), caller=caller)
    return json_response(
        {
            "balance": format_money(money.balance),
            "available": format_money(money.available),
            "held": format_money(money.held),
        }
    )


@api_view("POST")
def wallet_operation_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    started = time.perf_counter()
    caller.require_write()
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    parsing.require_json((request.content_type or "").lower(), request.body)
    operation = parsing.parse_operation(request.body)
    idempotency_key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    settings = get_settings()
    submission = operation_submit(
        wallet_id=wallet_uuid,
        operation=operation,
        idempotency_key=idempotency_key,
        caller=caller,
        connection=get_redis(),
        settings=settings,
        limits=_write_limits(caller, idempotency_key),
    )
    metrics.record(operation.operation_type, submission.result, time.perf_counter() - started)
    return replay_marked(_operation_response(submission), submission.replayed)


def _operation_response(submission: Submission) -> HttpResponse:
    operation_id = str(submission.operation_id)
    result = submission.result
    if result is None:
        return json_response(
            {"status": "Pending", "operation_id": operation_id},
            status=202,
            Location=f"/api/v1/operations/{operation_id}",
        )
    if result.status is OperationStatus.REJECTED:
        return _rejection_response(result, "Operation rejected")
    assert result.balance_after is not None
    return json_response(
        {
            "status": "Success",
            "new_balance": format_money(result.balance_after),
            # A keyed retry answers with the operation its key first became.
            "operation_id": str(result.operation_id),
        }
    )


def _write_limits(caller: Caller, idempotency_key: str | None) -> list[rate_limits.Counted]:
    """What a write (an operation or a transfer) is counted against."""
    limits = [Limit.WRITES] if idempotency_key is None else [Limit.WRITES, Limit.IDEMPOTENCY_KEYS]
    return rate_limits.counted(caller, get_settings(), *limits)


def _rejection_response(result: OperationResult, fallback: str) -> HttpResponse:
    """The error answer for a worker's refusal, with the status of its kind."""
    rejection = result.rejection
    status = 400 if rejection is None else REJECTION_STATUS.get(rejection, 400)
    return outcome_error_response(result.error or fallback, status)


@api_view("GET")
def wallet_history_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    rows, after = wallet_history_list(
        wallet_id=parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND),
        caller=caller,
        limit=parsing.parse_limit(request.GET.get("limit")),
        after=parsing.parse_cursor(request.GET.get("cursor")),
    )
    return json_response({"results": [operation_json(row) for row in rows], "next": cursor_json(after)})


def _reachable(caller: Caller, wallet_id: UUID, not_found: str = OPERATION_NOT_FOUND) -> None:
    """An operation (or transfer) of a wallet the caller does not reach is not found, like one
    that does not exist."""
    try:
        wallet_ensure_reachable(wallet_id=wallet_id, caller=caller)
    except NotFound:
        raise NotFound(not_found) from None


@api_view("GET")
def operation_detail_view(request: HttpRequest, caller: Caller, operation_id: str) -> HttpResponse:
    operation_uuid = parsing.parse_uuid(operation_id, not_found=OPERATION_NOT_FOUND)
    row = operation_get(operation_id=operation_uuid)
    if row is not None:
        _reachable(caller, row.wallet_id)
        return json_response(operation_json(row))
    pending = pending_get(operation_id=operation_uuid)
    if pending is not None:
        _reachable(caller, pending.wallet_id)
        if pending.idempotency_key is not None:
            # A keyed request may have become the operation its key first named.
            row = operation_by_key_get(wallet_id=pending.wallet_id, idempotency_key=pending.idempotency_key)
        if row is None:
            row = operation_get(operation_id=operation_uuid)  # decided since the first read?
        if row is not None:
            return json_response(operation_json(row))
        return _pending_json(operation_uuid)
    job = job_state(connection=get_redis(), operation_id=operation_uuid)
    if job.wallet_id is not None:
        _reachable(caller, job.wallet_id)
    elif job.state is not JobState.UNKNOWN and not caller.reaches(None):
        raise NotFound(OPERATION_NOT_FOUND)  # a job whose wallet is unreadable is nobody's
    if job.state is JobState.PENDING:
        return _pending_json(operation_uuid)
    # The job may have finished between the two reads: the ledger is the answer.
    row = operation_get(operation_id=operation_uuid)
    if row is not None:
        _reachable(caller, row.wallet_id)
        return json_response(operation_json(row))
    if job.state is JobState.FAILED:
        return json_response(
            {
                "operation_id": str(operation_uuid),
                "status": OperationStatus.REJECTED.value,
                **ledger_error_fields(Rejection.UNPROCESSABLE.value),
            }
        )
    raise NotFound(OPERATION_NOT_FOUND)


@api_view("POST")
def transfer_create_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    started = time.perf_counter()
    caller.require_write()
    parsing.require_json((request.content_type or "").lower(), request.body)
    transfer = parsing.parse_transfer(request.body)
    idempotency_key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    settings = get_settings()
    answer = transfer_submit(
        transfer=transfer,
        idempotency_key=idempotency_key,
        caller=caller,
        connection=get_redis(),
        settings=settings,
        limits=_write_limits(caller, idempotency_key),
    )
    metrics.transfer_record(answer.state, time.perf_counter() - started)
    return replay_marked(_transfer_response(answer), answer.replayed)


def _transfer_response(answer: TransferAnswer) -> HttpResponse:
    transfer_id = str(answer.transfer_id)
    debit, credit, refund = answer.debit, answer.credit, answer.refund
    if debit is not None and debit.status is OperationStatus.REJECTED:
        return _rejection_response(debit, "Transfer rejected")
    if answer.state is TransferState.COMPLETED:
        assert debit is not None
        assert credit is not None
        return json_response(
            {
                "status": "Success",
                "transfer_id": transfer_id,
                "state": TransferState.COMPLETED.value,
                "from_balance": format_money(debit.balance_after or Decimal(0)),
                "to_balance": format_money(credit.balance_after or Decimal(0)),
            }
        )
    if answer.state is TransferState.FAILED:  # the destination refused the credit; refunded
        assert credit is not None
        assert refund is not None
        error = credit.error or "Transfer failed"
        body = {**error_fields(error, 400), "transfer_id": transfer_id, "state": answer.state.value}
        return json_response(body, status=400)
    return json_response(
        {"status": "Pending", "transfer_id": transfer_id, "state": TransferState.PENDING.value},
        status=202,
        Location=f"/api/v1/transfers/{transfer_id}",
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
        _reachable(caller, pending.wallet_id, TRANSFER_NOT_FOUND)
        row = transfer_get(transfer_id=transfer_uuid)  # decided since the first read?
        if row is None and pending.idempotency_key is not None:
            # A keyed request may have become the transfer its key first named.
            keyed = operation_by_key_get(wallet_id=pending.wallet_id, idempotency_key=pending.idempotency_key)
            if keyed is not None and keyed.operation_type is OperationType.TRANSFER_OUT:
                row = transfer_get(transfer_id=keyed.id)
        if row is None:
            return json_response(transfer_pending_json(transfer_uuid))
    _reachable(caller, row.from_wallet, TRANSFER_NOT_FOUND)
    return json_response(transfer_json(row))


@api_view("POST")
def hold_create_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    started = time.perf_counter()
    caller.require_write()
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    parsing.require_json((request.content_type or "").lower(), request.body)
    hold = parsing.parse_hold(request.body, wallet_id=wallet_uuid)
    idempotency_key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    answer = hold_submit(
        wallet_id=wallet_uuid,
        hold=hold,
        idempotency_key=idempotency_key,
        caller=caller,
        connection=get_redis(),
        settings=get_settings(),
        limits=_write_limits(caller, idempotency_key),
    )
    metrics.record(OperationType.HOLD, answer.result, time.perf_counter() - started)
    return replay_marked(_hold_response(answer), answer.replayed)


def _hold_response(answer: HoldAnswer) -> HttpResponse:
    result = answer.result
    hold_id = str(answer.hold_id)
    if result is None:
        return json_response(
            {"status": "Pending", "hold_id": hold_id, "state": "pending"},
            status=202,
            Location=f"/api/v1/holds/{hold_id}",
        )
    if result.status is OperationStatus.REJECTED:
        return _rejection_response(result, "Hold rejected")
    assert result.balance_after is not None
    return json_response(
        {
            "hold_id": hold_id,
            "state": HoldState.ACTIVE.value,
            "amount": format_money(answer.amount),
            "expires_at": moment_json(answer.expires_at),
            "available": format_money(result.balance_after - result.held_after),
            "held": format_money(result.held_after),
            "balance": format_money(result.balance_after),
        },
        status=201,
        Location=f"/api/v1/holds/{hold_id}",
    )


@api_view("GET")
def hold_detail_view(request: HttpRequest, caller: Caller, hold_id: str) -> HttpResponse:
    hold_uuid = parsing.parse_uuid(hold_id, not_found=HOLD_NOT_FOUND)
    row = hold_get(hold_id=hold_uuid)
    if row is not None:
        _reachable(caller, row.wallet_id, HOLD_NOT_FOUND)
        return json_response(hold_json(row))
    # Answered 202, or refused: the ledger or the web's pending record knows it.
    ledger = operation_get(operation_id=hold_uuid)
    known = ledger or pending_get(operation_id=hold_uuid)
    if known is None or known.operation_type is not OperationType.HOLD:
        raise NotFound(HOLD_NOT_FOUND)
    _reachable(caller, known.wallet_id, HOLD_NOT_FOUND)
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
    parsing.require_json((request.content_type or "").lower(), request.body)
    return _hold_change(request, caller, hold_uuid, OperationType.HOLD_CAPTURE, parsing.parse_capture(request.body))


@api_view("POST")
def hold_void_view(request: HttpRequest, caller: Caller, hold_id: str) -> HttpResponse:
    caller.require_write()
    hold_uuid = parsing.parse_uuid(hold_id, not_found=HOLD_NOT_FOUND)
    parsing.require_json((request.content_type or "").lower(), request.body)
    parsing.parse_void(request.body)
    return _hold_change(request, caller, hold_uuid, OperationType.HOLD_VOID, None)


def _hold_change(
    request: HttpRequest, caller: Caller, hold_id: UUID, kind: OperationType, amount: Decimal | None
) -> HttpResponse:
    started = time.perf_counter()
    idempotency_key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    answer = hold_change_submit(
        hold_id=hold_id,
        kind=kind,
        amount=amount,
        idempotency_key=idempotency_key,
        caller=caller,
        connection=get_redis(),
        settings=get_settings(),
        limits=_write_limits(caller, idempotency_key),
    )
    metrics.record(kind, answer.result, time.perf_counter() - started)
    return replay_marked(_change_response(answer, hold_id), answer.replayed)


def _change_response(answer: ChangeAnswer, hold_id: UUID) -> HttpResponse:
    result, kind, transfer = answer.result, answer.kind, answer.transfer
    if result is None or (transfer is not None and transfer.state is TransferState.PENDING):
        # Not decided in time, or captured to a wallet not credited yet: retry with the key.
        pending = {"status": "Pending", "hold_id": str(hold_id)}
        if transfer is not None:
            pending["transfer_id"] = str(transfer.transfer_id)
        return json_response(pending, status=202, Location=f"/api/v1/holds/{hold_id}")
    if result.status is OperationStatus.REJECTED:
        rejection = result.rejection
        state = HOLD_STATE_OF.get(rejection) if rejection is not None else None
        if state is not None:
            error = result.error or state.value
            resolved = {**error_fields(error, 409), "hold_id": str(hold_id), "state": state.value}
            return json_response(resolved, status=409)
        return _rejection_response(result, "Hold change rejected")
    assert result.balance_after is not None
    body: dict[str, object] = {"status": "Success", "hold_id": str(hold_id), "operation_id": str(result.operation_id)}
    if kind is OperationType.HOLD_CAPTURE:
        body |= {
            "state": HoldState.CAPTURED.value,
            "captured": format_money(answer.amount),
            "released": format_money(answer.hold.amount - answer.amount),
        }
    else:
        body |= {"state": HoldState.VOIDED.value, "released": format_money(answer.amount)}
    body |= {
        "balance": format_money(result.balance_after),
        "available": format_money(result.balance_after - result.held_after),
        "held": format_money(result.held_after),
    }
    if transfer is not None:  # completed; or failed: the destination refused, the money came back
        body |= {"transfer_id": str(transfer.transfer_id), "transfer_state": transfer.state.value}
    return json_response(body)


def _pending_json(operation_id: UUID) -> HttpResponse:
    return json_response({"operation_id": str(operation_id), "status": OperationStatus.PENDING.value})


@api_view("GET", public=True)
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = get_settings().metrics_token
    if token and not metrics.bearer_matches(request.headers.get("Authorization"), token):
        return error_response(METRICS_UNAUTHORIZED, 401, WWW_Authenticate='Bearer realm="metrics"')
    return HttpResponse(metrics.metrics_text(), content_type=CONTENT_TYPE_LATEST)


@api_view("GET", public=True)
def openapi_view(request: HttpRequest) -> HttpResponse:
    return json_response(OPENAPI)


REFERENCE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The reference page loads nothing and runs nothing: only its own inline style."""


@api_view("GET", public=True)
def reference_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(reference_html(), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = REFERENCE_POLICY
    return response


@api_view("GET", public=True)
def healthz_view(request: HttpRequest) -> HttpResponse:
    """Liveness: this process answers. Its dependencies are readiness's (``/readyz``): an
    orchestrator restarting every web process during a database blip would only add an outage."""
    return json_response({"status": "ok"})


def _dependency_checks() -> dict[str, str]:
    checks = {"postgres": "ok", "redis": "ok"}
    try:
        # A read of the wallets table, so a locked or stalled table shows here, not only a dead server.
        read_one(_HEALTH_PROBE, ())
    except Exception as exc:  # any failure of the probe means unavailable
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    return checks


@api_view("GET", public=True)
def readyz_view(request: HttpRequest) -> HttpResponse:
    """503 unless PostgreSQL and Redis answer (``checks``), every shard has a worker holding its
    lease and no operation has waited in a shard queue longer than ``READY_MAX_LAG``
    (``readiness``)."""
    settings = get_settings()
    checks = _dependency_checks()
    unavailable = {"status": "unavailable", **served_error_fields(UNAVAILABLE, 503), "checks": checks}
    if any(value != "ok" for value in checks.values()):
        return json_response(unavailable, status=503)
    try:
        readings = readings_get(get_redis(), settings)
    except ServiceUnavailable as exc:
        log.warning("readiness unknown: %s", exc)
        return json_response(unavailable, status=503)
    lagging = readings.lagging(settings.ready_max_lag)
    ready = not readings.unowned and not lagging
    return json_response(
        {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "live_workers": readings.live_workers,
            "suspended": readings.suspended,
            "unowned_shards": readings.unowned,
            "lagging_shards": lagging,
            "max_lag_seconds": round(max(readings.lags, default=0.0), 3),
        },
        status=200 if ready else 503,
    )


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response("Bad request", 400)


def forbidden_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response("Forbidden", 403)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response("Not found", 404)


def server_error_view(request: HttpRequest) -> HttpResponse:
    return error_response("Internal server error", 500)
