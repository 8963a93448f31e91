"""Bulk writes: ``POST /api/v1/operations/bulk``, many deposits and withdrawals in one request."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse

from shared.config import get_settings
from shared.connections import get_redis
from shared.errors import InvalidRequest, RequestError
from shared.outcomes import OperationStatus
from web.wallets.api import parsing
from web.wallets.api.responses import api_view, json_response
from web.wallets.api.views.common import applied_json, rejection_status
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import BODY_TOO_LARGE, BULK_HEADER_KEY, OPERATION_REJECTED, error_fields
from web.wallets.inputs import BULK_MAX_BODY_BYTES
from web.wallets.money.bulk import BulkOutcome, bulk_submit
from web.wallets.money.services import WriteContext
from web.wallets.ops import metrics


@api_view("POST")
def operations_bulk_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Up to ``BULK_MAX_ITEMS`` operations, answered with one result each, in order: applied,
    rejected, or pending with its status URL (``BulkOutcome``). Not atomic across operations."""
    started = time.perf_counter()
    caller.require_write()
    items = parsing.parse_bulk(_bulk_body(request))
    if request.headers.get("Idempotency-Key") is not None:
        raise InvalidRequest(BULK_HEADER_KEY)
    context = WriteContext(caller, None, get_redis(), get_settings())  # its limits: bulk_submit's
    outcomes = bulk_submit(items=items, context=context)
    elapsed = time.perf_counter() - started
    for item, outcome in zip(items, outcomes, strict=True):
        if not isinstance(outcome, RequestError):
            metrics.record(item.operation.operation_type, outcome.result, elapsed)
    return json_response({"results": [_result_json(i, outcome) for i, outcome in enumerate(outcomes)]})


def _bulk_body(request: HttpRequest) -> bytes:
    """The body, up to ``BULK_MAX_BODY_BYTES`` (the bulk request's own limit: read past Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, every other request's), declared as JSON."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > BULK_MAX_BODY_BYTES:
        raise InvalidRequest(BODY_TOO_LARGE)
    body = request.read()
    parsing.require_json((request.content_type or "").lower(), body)
    return body


def _result_json(index: int, outcome: BulkOutcome) -> dict[str, Any]:
    if isinstance(outcome, RequestError):
        return {"index": index, "status": "Rejected", **error_fields(outcome.message, outcome.status)}
    result = outcome.result
    operation_id = str(outcome.operation_id)
    body: dict[str, Any]
    if result is None:
        body = {"status": "Pending", "operation_id": operation_id, "location": f"/api/v1/operations/{operation_id}"}
    elif result.status is OperationStatus.REJECTED:
        error = error_fields(result.error or OPERATION_REJECTED, rejection_status(result))
        body = {"status": "Rejected", "operation_id": str(result.operation_id), **error}
    else:
        body = applied_json(result, outcome.currency)
    if outcome.replayed:
        body["replayed"] = True
    return {"index": index, **body}
