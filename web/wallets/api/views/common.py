"""What the API views share: a write's JSON body and context, the status of a worker's refusal, reach checks."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse

from shared.config import get_settings
from shared.connections import get_redis
from shared.holds import REFUSED_AS
from shared.messages import OperationResult
from shared.money import format_money
from shared.outcomes import OperationStatus, Rejection
from shared.rates import Limit
from web.wallets.api import parsing
from web.wallets.api.responses import (
    json_response,
    outcome_error_response,
)
from web.wallets.auth import rate_limits
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import (
    OPERATION_NOT_FOUND,
)
from web.wallets.money.idempotency import parse_idempotency_key
from web.wallets.money.selectors import (
    wallet_ensure_reachable,
)
from web.wallets.money.services import WriteContext

WALLET_NOT_FOUND = Rejection.WALLET_NOT_FOUND.value


REJECTION_STATUS = {
    Rejection.WALLET_NOT_FOUND: 404,
    Rejection.IDEMPOTENCY_MISMATCH: 422,
    Rejection.HOLD_NOT_FOUND: 404,
    **dict.fromkeys(REFUSED_AS.values(), 409),
    **dict.fromkeys((Rejection.WALLET_FROZEN, Rejection.WALLET_CLOSED, Rejection.WALLET_NOT_EMPTY), 409),
}
"""HTTP status of a worker's rejection, by its kind; any other rejection is a 400."""


def json_body(request: HttpRequest) -> bytes:
    """A write's body, declared as JSON (else 415)."""
    parsing.require_json((request.content_type or "").lower(), request.body)
    return request.body


def write_context(request: HttpRequest, caller: Caller) -> WriteContext:
    """What a write is sent with: its Idempotency-Key (read after its body, whose errors come
    first), Redis, the settings, and the rate limits of the caller's key it counts against (with
    a key, those of keyed requests too)."""
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    settings = get_settings()
    limits = [Limit.WRITES] if key is None else [Limit.WRITES, Limit.IDEMPOTENCY_KEYS]
    return WriteContext(caller, key, get_redis(), settings, rate_limits.counted(caller, settings, *limits))


def accepted_response(location: str, **fields: str) -> HttpResponse:
    """A 202: accepted, not decided yet (``{"status": "Pending", ...fields}``), with the
    ``Location`` to poll."""
    return json_response({"status": "Pending", **fields}, status=202, Location=location)


def rejection_status(result: OperationResult) -> int:
    """The HTTP status of a worker's refusal, by its kind."""
    rejection = result.rejection
    return 400 if rejection is None else REJECTION_STATUS.get(rejection, 400)


def rejection_response(result: OperationResult, fallback: str) -> HttpResponse:
    """The error answer for a worker's refusal, with the status of its kind."""
    return outcome_error_response(result.error or fallback, rejection_status(result))


def applied_json(result: OperationResult, currency: str) -> dict[str, Any]:
    """The answer to an applied deposit or withdrawal (the seed's ``{"status": "Success", ...}``)."""
    assert result.balance_after is not None
    return {
        "status": "Success",
        "new_balance": format_money(result.balance_after, currency),
        "currency": currency,
        # A keyed retry answers with the operation its key first became.
        "operation_id": str(result.operation_id),
    }


def reachable(caller: Caller, wallet_id: UUID, not_found: str = OPERATION_NOT_FOUND) -> None:
    """An operation (or transfer, or hold) of a wallet the caller does not reach is not found
    (``wallet_ensure_reachable``)."""
    wallet_ensure_reachable(wallet_id=wallet_id, caller=caller, not_found=not_found)


def pending_json(operation_id: UUID) -> HttpResponse:
    return json_response({"operation_id": str(operation_id), "status": OperationStatus.PENDING.value})
