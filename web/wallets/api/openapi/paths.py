"""Every path of the API and its operations, with a summary of each and the resources (tags)
they belong to, in the order reference pages show them."""

from __future__ import annotations

from typing import Any

from shared.events import EventType
from shared.operations import OperationType
from shared.outcomes import Rejection
from web.wallets import error_codes as msg
from web.wallets.api.openapi.components import limit_parameter, page_parameters, ref, request_body, response
from web.wallets.api.openapi.examples import EXAMPLES
from web.wallets.api.openapi.responses import (
    BAD_BODY,
    EXAMPLE_REQUEST_ID,
    HOLD_CONFLICT,
    HOLD_ID,
    HOLD_NOT_FOUND,
    IDEMPOTENCY_KEY,
    LOCATION,
    NOT_JSON,
    OPERATION_ID,
    READ,
    STATUS_CONFLICT,
    TRANSFER_ID,
    TRANSFER_REFUSED,
    UNAVAILABLE,
    WALLET_ID,
    WALLET_NOT_FOUND,
    WALLET_WRITE,
    WRITE,
    error,
    keyed_write,
    pending,
)
from web.wallets.error_codes import error_fields
from web.wallets.inputs import BULK_MAX_BODY_BYTES, BULK_MAX_ITEMS


def _instant(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": f"{description}: ISO 8601 with a UTC offset (2026-03-01T00:00:00Z)",
        "schema": {"type": "string", "format": "date-time"},
    }


HISTORY_FILTERS = [
    {
        "name": "type",
        "in": "query",
        "description": "Only rows of this operationType",
        "schema": {"type": "string", "enum": [t.value for t in OperationType]},
    },
    {
        "name": "status",
        "in": "query",
        "description": "Only applied or only rejected rows",
        "schema": {"type": "string", "enum": ["applied", "rejected"]},
    },
    _instant("created_after", "Only rows decided (applied_at) at or after this instant"),
    _instant("created_before", "Only rows decided (applied_at) before this instant"),
    {"name": "reference", "in": "query", "description": "Only rows of this reference", "schema": ref("Reference")},
    {
        "name": "metadata",
        "in": "query",
        "style": "deepObject",
        "explode": True,
        "description": "metadata[<key>]=<value>: only rows whose metadata has the pair (several: all)",
        "schema": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 500}},
    },
]
"""The filters of a wallet's history (``api.queries``): all given hold for every row."""

SUMMARIES = {
    "wallet_create": "Create a wallet of the key's tenant",
    "wallet_balance": "Read a wallet's balance, available and held money, limits and status",
    "wallet_update": "Change a wallet's limits or status (freeze, unfreeze, close)",
    "wallet_operate": "Deposit into or withdraw from a wallet",
    "wallet_history": "List a wallet's ledger, newest first, filtered",
    "wallet_statement": "A wallet's statement of a span: opening balance, rows, closing balance (JSON or CSV)",
    "operations_search": "Find the ledger rows of a reference across the tenant's wallets",
    "operations_bulk": "Deposit into and withdraw from many wallets in one request",
    "operation_status": "Read an operation's status (poll a 202's Location)",
    "operation_reverse": "Reverse an applied deposit or withdrawal, all or part of it",
    "transfer_create": "Move money from one wallet to another",
    "transfer_status": "Read a transfer and its legs",
    "transfer_reverse": "Send a completed transfer's money back, all or part of it",
    "hold_create": "Hold money of a wallet until it is captured, voided or expires",
    "hold_status": "Read a hold",
    "hold_capture": "Capture a hold (all or part), releasing the rest",
    "hold_void": "Release a hold",
    "events_list": "Read the tenant's events, oldest first, after a cursor",
    "health": "Liveness: the process answers",
    "ready": "Readiness: every shard has a writer and none lags",
}
"""One line per operation, as API reference pages show it."""

TAGS = {
    "Wallets": (
        "Create wallets and move money in and out of them",
        (
            "wallet_create",
            "wallet_balance",
            "wallet_update",
            "wallet_operate",
            "wallet_history",
            "wallet_statement",
        ),
    ),
    "Operations": (
        "What became of an operation; reversals; a reference's rows; many at once",
        ("operation_status", "operation_reverse", "operations_search", "operations_bulk"),
    ),
    "Transfers": (
        "Money from one wallet to another: two legs, no shared writer",
        ("transfer_create", "transfer_status", "transfer_reverse"),
    ),
    "Holds": (
        "Set money aside now; capture or release it later",
        ("hold_create", "hold_status", "hold_capture", "hold_void"),
    ),
    "Events": ("Every money movement as it happened, to catch up and reconcile", ("events_list",)),
    "Webhooks": (
        "Events pushed to the tenant's URLs, signed (Standard Webhooks), retried until delivered",
        (
            "webhook_endpoint_create",
            "webhook_endpoints_list",
            "webhook_endpoint_get",
            "webhook_endpoint_delete",
            "webhook_endpoint_rotate",
            "webhook_deliveries_list",
            "webhook_delivery_retry",
        ),
    ),
    "Service": ("Probes for orchestrators", ("health", "ready")),
}
"""The resources, in the order reference pages show them: a description, and their operations."""

PATHS: dict[str, Any] = {
    "/api/v1/wallets": {
        "post": {
            "operationId": "wallet_create",
            "requestBody": request_body(ref("WalletRequest"), EXAMPLES["wallet_request"], required=False),
            "responses": {
                "201": response(ref("Wallet"), "The new wallet", EXAMPLES["wallet"]),
                "400": error(
                    400,
                    "Invalid body or currency",
                    msg.MALFORMED_JSON,
                    msg.NOT_AN_OBJECT,
                    msg.UNKNOWN_FIELDS,
                    msg.INVALID_CURRENCY,
                    msg.INVALID_CONTROLS,
                    msg.INVALID_ANNOTATIONS,
                ),
                **WALLET_WRITE,
                "415": NOT_JSON,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/wallets/{wallet_id}": {
        "parameters": [WALLET_ID],
        "get": {
            "operationId": "wallet_balance",
            "description": "With at: the wallet's money as it stood at that instant (WalletAt), from the ledger:"
            " every row its writer decided at or before it counted.",
            "parameters": [
                {
                    "name": "at",
                    "in": "query",
                    "description": "An instant (ISO 8601 with a UTC offset), not in the future",
                    "schema": {"type": "string", "format": "date-time"},
                }
            ],
            "responses": {
                "200": response(
                    {"oneOf": [ref("Wallet"), ref("WalletAt")]},
                    "The wallet's money (at the instant)",
                    EXAMPLES["balance"],
                ),
                "400": error(
                    400, "Invalid or future instant; unknown parameter", msg.INVALID_TIME, msg.UNKNOWN_PARAMETERS
                ),
                **READ,
                "404": error(404, "Wallet not found, or not yet there at the instant", Rejection.WALLET_NOT_FOUND),
                "503": UNAVAILABLE,
            },
        },
        "patch": {
            "operationId": "wallet_update",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("WalletChange"), EXAMPLES["wallet_change"]),
            "responses": keyed_write(
                {
                    "200": response(ref("Wallet"), "Applied: the wallet right after it", EXAMPLES["wallet_changed"]),
                    "202": pending(
                        "OperationPending", "Accepted, not applied yet: poll the Location", "operation_pending"
                    ),
                },
                bad_request=error(400, "Invalid body or controls", *BAD_BODY, msg.INVALID_CONTROLS, msg.INVALID_KEY),
                not_found=WALLET_NOT_FOUND,
                conflict=error(
                    409,
                    "The wallet is closed, or not empty (to close it); or the same Idempotency-Key is in flight",
                    Rejection.WALLET_CLOSED,
                    Rejection.WALLET_NOT_EMPTY,
                    msg.IN_FLIGHT,
                ),
            ),
        },
    },
    "/api/v1/wallets/{wallet_id}/operation": {
        "parameters": [WALLET_ID],
        "post": {
            "operationId": "wallet_operate",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("OperationRequest"), EXAMPLES["operation_request"]),
            "responses": keyed_write(
                {
                    "200": response(ref("OperationAccepted"), "Applied", EXAMPLES["operation_accepted"]),
                    "202": pending(
                        "OperationPending", "Accepted, not applied yet: poll the Location", "operation_pending"
                    ),
                },
                bad_request=error(
                    400,
                    "Invalid body, amount or operationType; insufficient funds; balance limit",
                    *BAD_BODY,
                    msg.INVALID_OPERATION_TYPE,
                    msg.INVALID_KEY,
                    Rejection.INSUFFICIENT_FUNDS,
                    Rejection.BALANCE_LIMIT,
                ),
                not_found=WALLET_NOT_FOUND,
                conflict=STATUS_CONFLICT,
            ),
        },
    },
    "/api/v1/wallets/{wallet_id}/operations": {
        "parameters": [WALLET_ID],
        "get": {
            "operationId": "wallet_history",
            "parameters": [
                *page_parameters(
                    "Operations",
                    "opaque and signed, valid for this wallet and the filters of that page only (sent alone,"
                    " it keeps them)",
                ),
                *HISTORY_FILTERS,
            ],
            "responses": {
                "200": response(ref("History"), "Operations, newest first", EXAMPLES["history"]),
                "400": error(
                    400,
                    "Invalid limit, cursor or filter; unknown parameter",
                    msg.INVALID_LIMIT,
                    msg.INVALID_CURSOR,
                    msg.INVALID_FILTER,
                    msg.INVALID_TIME,
                    msg.UNKNOWN_PARAMETERS,
                ),
                **READ,
                "404": WALLET_NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/wallets/{wallet_id}/statement": {
        "parameters": [WALLET_ID],
        "get": {
            "operationId": "wallet_statement",
            "description": "The wallet's applied ledger rows decided at or after from and before to, oldest"
            " first, between its balance before them and after them (opening + every balance_change ="
            " closing). Streamed as it is read: a body that ends before its closing balance was cut off."
            " CSV with format=csv or Accept: text/csv (a client's text starting with = + - @ is prefixed"
            " with ' so spreadsheets do not run it).",
            "parameters": [
                _instant("from", "The span's start (included)", required=True),
                _instant("to", "The span's end (excluded), at most STATEMENT_MAX_DAYS (366) after from", required=True),
                {
                    "name": "format",
                    "in": "query",
                    "description": "json (default) or csv",
                    "schema": {"type": "string", "enum": ["json", "csv"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "The statement",
                    "content": {
                        "application/json": {"schema": ref("Statement"), "example": EXAMPLES["statement"]},
                        "text/csv": {"schema": {"type": "string"}, "example": EXAMPLES["statement_csv"]},
                    },
                },
                "400": error(
                    400,
                    "Invalid from, to or format; unknown parameter",
                    msg.INVALID_TIME,
                    msg.INVALID_RANGE,
                    msg.INVALID_FILTER,
                    msg.UNKNOWN_PARAMETERS,
                ),
                **READ,
                "404": WALLET_NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/operations": {
        "get": {
            "operationId": "operations_search",
            "parameters": [
                {
                    "name": "reference",
                    "in": "query",
                    "required": True,
                    "description": "The client's reference (or the cursor's, with a cursor alone)",
                    "schema": ref("Reference"),
                },
                *page_parameters("Rows", "valid for this tenant and reference only"),
            ],
            "responses": {
                "200": response(ref("History"), "Ledger rows, newest first", EXAMPLES["history"]),
                "400": error(
                    400,
                    "Missing or invalid reference, limit or cursor; unknown parameter",
                    msg.INVALID_FILTER,
                    msg.INVALID_LIMIT,
                    msg.INVALID_CURSOR,
                    msg.UNKNOWN_PARAMETERS,
                ),
                **READ,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/operations/bulk": {
        "post": {
            "operationId": "operations_bulk",
            "description": f"Up to {BULK_MAX_ITEMS} deposits and withdrawals, each applied by its wallet's writer as a"
            " single one is, a wallet's in the request's order, and answered in order. Not atomic: one refused"
            " leaves the others applied. Every operation is checked before anything is queued: a bad one refuses"
            " the whole request, naming its index. Each is one write for the rate limits (each keyed one a keyed"
            f" request too). A body of up to {BULK_MAX_BODY_BYTES // (1024 * 1024)} MiB. Idempotency-Keys go"
            " with each operation (idempotency_key), not in a header.",
            "requestBody": request_body(ref("BulkRequest"), EXAMPLES["bulk_request"]),
            "responses": {
                "200": response(ref("BulkResults"), "One result per operation, in order", EXAMPLES["bulk_results"]),
                "400": error(
                    400,
                    "An invalid body, or an operation refused before anything was queued (its index); more"
                    " operations than the key's rate allows at once",
                    *BAD_BODY,
                    msg.INVALID_BULK,
                    msg.INVALID_OPERATION_TYPE,
                    msg.INVALID_WALLET_ID,
                    Rejection.WALLET_NOT_FOUND,
                    msg.INVALID_KEY,
                    msg.DUPLICATE_ITEM_KEY,
                    msg.BULK_HEADER_KEY,
                    msg.OVER_RATE,
                    other={
                        "operation_refused": (
                            "An operation refused by its index: nothing was queued",
                            {**error_fields(msg.INVALID_AMOUNT, 400), "request_id": EXAMPLE_REQUEST_ID, "index": 2},
                        )
                    },
                ),
                **WRITE,
                "415": NOT_JSON,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/operations/{operation_id}": {
        "parameters": [OPERATION_ID],
        "get": {
            "operationId": "operation_status",
            "responses": {
                "200": response(ref("Operation"), "The operation", EXAMPLES["operation"]),
                **READ,
                "404": error(404, "Operation not found", msg.OPERATION_NOT_FOUND),
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/operations/{operation_id}/reversal": {
        "parameters": [OPERATION_ID],
        "post": {
            "operationId": "operation_reverse",
            "description": "A REVERSE_DEPOSIT or REVERSE_WITHDRAW of the operation's wallet, naming it"
            " (reversal_of), decided by the wallet's writer in order with its money: the reversals of one"
            " operation never add up to more than it. The Idempotency-Key is the wallet's, as for an operation.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("ReversalRequest"), EXAMPLES["reversal_request"], required=False),
            "responses": keyed_write(
                {
                    "200": response(ref("OperationAccepted"), "Reversed", EXAMPLES["operation_accepted"]),
                    "202": pending(
                        "OperationPending", "Accepted, not applied yet: poll the Location", "operation_pending"
                    ),
                },
                bad_request=error(
                    400,
                    "Invalid body or amount; not a deposit or withdrawal (or a reversal); more than is left;"
                    " insufficient funds; balance limit",
                    *BAD_BODY,
                    msg.INVALID_KEY,
                    Rejection.NOT_REVERSIBLE,
                    Rejection.REVERSAL_TOO_LARGE,
                    Rejection.INSUFFICIENT_FUNDS,
                    Rejection.BALANCE_LIMIT,
                ),
                not_found=error(404, "Operation not found", msg.OPERATION_NOT_FOUND),
                conflict=error(
                    409,
                    "The operation is not applied; the wallet is frozen or closed; the same Idempotency-Key is"
                    " in flight",
                    msg.NOT_APPLIED,
                    Rejection.WALLET_FROZEN,
                    Rejection.WALLET_CLOSED,
                    msg.IN_FLIGHT,
                ),
            ),
        },
    },
    "/api/v1/events": {
        "get": {
            "operationId": "events_list",
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "description": "The previous page's next: the feed continues after it (opaque)",
                    "schema": {"type": "string"},
                },
                {
                    "name": "type",
                    "in": "query",
                    "description": "Only events of this type",
                    "schema": {"type": "string", "enum": [t.value for t in EventType]},
                },
                {
                    "name": "wallet",
                    "in": "query",
                    "description": "Only events of this wallet (also the transfers it received)",
                    "schema": {"type": "string", "format": "uuid"},
                },
                limit_parameter("Events"),
            ],
            "responses": {
                "200": response(ref("Events"), "Events, oldest first", EXAMPLES["events"]),
                "400": error(
                    400,
                    "Invalid cursor, type, wallet or limit",
                    msg.INVALID_CURSOR,
                    msg.INVALID_EVENT_TYPE,
                    msg.INVALID_WALLET_FILTER,
                    msg.INVALID_LIMIT,
                ),
                **READ,
                "404": WALLET_NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/transfers": {
        "post": {
            "operationId": "transfer_create",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("TransferRequest"), EXAMPLES["transfer_request"]),
            "responses": keyed_write(
                {
                    "200": response(ref("TransferCompleted"), "Both legs applied", EXAMPLES["transfer_completed"]),
                    "202": pending(
                        "TransferPending", "Accepted, not completed yet: poll the Location", "transfer_pending"
                    ),
                },
                bad_request=TRANSFER_REFUSED,
                not_found=error(404, "Wallet not found (either of them)", Rejection.WALLET_NOT_FOUND),
                conflict=STATUS_CONFLICT,
            ),
        },
    },
    "/api/v1/transfers/{transfer_id}": {
        "parameters": [TRANSFER_ID],
        "get": {
            "operationId": "transfer_status",
            "responses": {
                "200": response(ref("Transfer"), "The transfer and its legs", EXAMPLES["transfer"]),
                **READ,
                "404": error(404, "Transfer not found", msg.TRANSFER_NOT_FOUND),
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/transfers/{transfer_id}/reversal": {
        "parameters": [TRANSFER_ID],
        "post": {
            "operationId": "transfer_reverse",
            "description": "A transfer from the destination back to the source, naming the original"
            " (reversal_of), decided by the destination's writer: the reversals of one transfer never add up"
            " to more than it. The Idempotency-Key is the destination's, as the source of this transfer.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("ReversalRequest"), EXAMPLES["reversal_request"], required=False),
            "responses": keyed_write(
                {
                    "200": response(ref("TransferCompleted"), "Sent back", EXAMPLES["transfer_completed"]),
                    "202": pending(
                        "TransferPending", "Accepted, not completed yet: poll the Location", "transfer_pending"
                    ),
                },
                bad_request=error(
                    400,
                    "Invalid body or amount; a reversal; more than is left; the destination cannot pay; the source"
                    " refused the credit (refunded)",
                    *BAD_BODY,
                    msg.INVALID_KEY,
                    Rejection.NOT_REVERSIBLE,
                    Rejection.REVERSAL_TOO_LARGE,
                    Rejection.INSUFFICIENT_FUNDS,
                    schema={"oneOf": [ref("Error"), ref("TransferFailed")]},
                    other={
                        "transfer_failed": (
                            "The source refused the credit; the money went back",
                            EXAMPLES["transfer_failed"],
                        )
                    },
                ),
                not_found=error(404, "Transfer not found", msg.TRANSFER_NOT_FOUND),
                conflict=error(
                    409,
                    "The transfer is not completed; the destination is frozen or closed; the same"
                    " Idempotency-Key is in flight",
                    msg.NOT_COMPLETED,
                    Rejection.WALLET_FROZEN,
                    Rejection.WALLET_CLOSED,
                    msg.IN_FLIGHT,
                ),
            ),
        },
    },
    "/api/v1/wallets/{wallet_id}/holds": {
        "parameters": [WALLET_ID],
        "post": {
            "operationId": "hold_create",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("HoldRequest"), EXAMPLES["hold_request"]),
            "responses": keyed_write(
                {
                    "201": {
                        **response(ref("HoldCreated"), "Held", EXAMPLES["hold_created"]),
                        "headers": {"Location": LOCATION},
                    },
                    "202": pending("HoldPending", "Accepted, not decided yet: poll the Location", "hold_pending"),
                },
                bad_request=error(
                    400,
                    "Invalid body, amount, expires_in or to; insufficient available funds",
                    *BAD_BODY,
                    msg.INVALID_EXPIRES_IN,
                    msg.INVALID_TO,
                    msg.HOLD_TO_SELF,
                    msg.INVALID_KEY,
                    Rejection.CURRENCY_MISMATCH,
                    Rejection.INSUFFICIENT_FUNDS,
                ),
                not_found=error(404, "Wallet not found (or the to wallet)", Rejection.WALLET_NOT_FOUND),
                conflict=STATUS_CONFLICT,
            ),
        },
    },
    "/api/v1/holds/{hold_id}": {
        "parameters": [HOLD_ID],
        "get": {
            "operationId": "hold_status",
            "responses": {
                "200": response(ref("Hold"), "The hold", EXAMPLES["hold"]),
                **READ,
                "404": HOLD_NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    **{
        f"/api/v1/holds/{{hold_id}}/{action}": {
            "parameters": [HOLD_ID],
            "post": {
                "operationId": f"hold_{action}",
                "description": description,
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": request_body(body, example, required=False),
                "responses": keyed_write(
                    {
                        "200": response(ref("HoldChanged"), "Done", EXAMPLES["hold_changed"]),
                        "202": pending("HoldPending", "Accepted, not decided yet: poll the Location", "hold_pending"),
                    },
                    bad_request=error(
                        400,
                        "Invalid body or amount; a capture above the held amount",
                        *BAD_BODY,
                        msg.INVALID_KEY,
                        Rejection.CAPTURE_TOO_LARGE,
                    ),
                    not_found=HOLD_NOT_FOUND,
                    conflict=HOLD_CONFLICT,
                ),
            },
        }
        for action, description, body, example in (
            (
                "capture",
                "Take the amount (default: all) out of the wallet, or to the hold's to wallet; release the rest",
                ref("CaptureRequest"),
                EXAMPLES["capture_request"],
            ),
            ("void", "Release all of it", ref("VoidRequest"), {}),
        )
    },
    "/healthz": {
        "get": {
            "operationId": "health",
            "security": [],
            "description": "Liveness: the process answers (PostgreSQL and Redis are readiness's concern)",
            "responses": {"200": response(ref("Health"), "The process answers", EXAMPLES["health"])},
        },
    },
    "/readyz": {
        "get": {
            "operationId": "ready",
            "security": [],
            "description": (
                "Not ready while PostgreSQL or Redis does not answer, a shard has no worker holding its lease,"
                " or a shard's oldest queued operation has waited longer than READY_MAX_LAG seconds"
                " (operations would end as 202s that do not settle)"
            ),
            "responses": {
                "200": response(ref("Readiness"), "Every shard has a writer, and none lags", EXAMPLES["ready"]),
                "503": response(
                    {"oneOf": [ref("Readiness"), ref("Unavailable")]},
                    "A shard without a writer or lagging; or PostgreSQL or Redis does not answer",
                    EXAMPLES["not_ready"],
                ),
            },
        },
    },
}
"""Every path, in the order reference pages show them."""
