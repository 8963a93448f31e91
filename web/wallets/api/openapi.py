"""The API's OpenAPI 3.0 document, served at ``/api/v1/openapi.json``.

Written out by hand: it is the contract, and ``tests/web/test_openapi.py``
fuzzes the running service against it (schemathesis), so it cannot drift.
"""

from __future__ import annotations

from typing import Any

from shared.holds import REFUSED_AS, HoldState
from shared.operations import CLIENT_OPERATION_TYPES, OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.transfers import TransferState
from web.wallets import error_codes as msg
from web.wallets.api.openapi_examples import EXAMPLES
from web.wallets.api.request_ids import REQUEST_ID_HEADER
from web.wallets.api.responses import REPLAYED
from web.wallets.error_codes import CODES, error_code, error_fields
from web.wallets.inputs import HISTORY_MAX_LIMIT, HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS

MONEY_PATTERN = r"^[0-9]+\.[0-9]{2}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, example: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema, "example": example}}}


def _body(schema: dict[str, Any], example: Any, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


EXAMPLE_REQUEST_ID = "5c3e9f0a8b2d4e61a7f0c9d8b3a2e1f4"

LEDGER_OUTCOMES = frozenset(
    {
        Rejection.INSUFFICIENT_FUNDS,
        Rejection.BALANCE_LIMIT,
        Rejection.CAPTURE_TOO_LARGE,
        Rejection.UNPROCESSABLE,
        Rejection.RATE_LIMITED,
    }
)
"""Errors that report what the ledger decided: the same for every replay of an
Idempotency-Key, byte for byte, so their bodies carry no ``request_id`` (the header does)."""


def _error_examples(status: int, messages: tuple[str, ...]) -> dict[str, Any]:
    """One example per message a response may carry, named by its code."""
    return {
        error_code(message, status): {
            "summary": message,
            "value": error_fields(message, status)
            | ({} if message in LEDGER_OUTCOMES else {"request_id": EXAMPLE_REQUEST_ID}),
        }
        for message in messages
    }


def _error(
    status: int,
    description: str,
    *messages: str,
    schema: dict[str, Any] | None = None,
    other: dict[str, tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    """An error response: its description, and an example of each ``messages`` (the ``error``
    strings it may carry, each with its ``code``); ``other``: named examples of another body
    ``schema`` allows, as (summary, value)."""
    examples = _error_examples(status, messages)
    for name, (summary, value) in (other or {}).items():
        examples[name] = {"summary": summary, "value": value}
    content = {"schema": schema or _ref("Error"), "examples": examples}
    return {"description": description, "content": {"application/json": content}}


HOLD_ID = {"name": "hold_id", "in": "path", "required": True, "schema": {"type": "string"}}
TRANSFER_ID = {"name": "transfer_id", "in": "path", "required": True, "schema": {"type": "string"}}
LOCATION = {
    "description": "Where to poll for the result (GET it until it is no longer pending)",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "1 to 255 printable ASCII characters, scoped to the wallet (a transfer's to its source). The same key"
        " with the same request replays the first answer and applies nothing again; with another request: 422;"
        " while the first is still in flight: 409. Kept for good in the ledger."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
WALLET_ID = {"name": "wallet_id", "in": "path", "required": True, "schema": {"type": "string"}}
OPERATION_ID = {"name": "operation_id", "in": "path", "required": True, "schema": {"type": "string"}}
UNAVAILABLE = {
    **_error(503, "PostgreSQL or Redis is unavailable: nothing was done", msg.UNAVAILABLE),
    "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
}
UNAUTHORIZED = {
    **_error(401, "Missing, malformed, unknown or revoked API key", msg.MISSING, msg.MALFORMED, msg.UNKNOWN),
    "headers": {
        "WWW-Authenticate": {"description": 'Bearer realm="wallets": send an API key', "schema": {"type": "string"}}
    },
}
FORBIDDEN = _error(403, "A read-only API key; the tenant's wallet quota is reached", msg.READ_ONLY, msg.WALLET_QUOTA)
RATE_LIMITED = {
    **_error(429, "The API key's rate limit: retry after Retry-After seconds", EXAMPLES["rate_limited"]),
    "headers": {
        "Retry-After": {
            "description": "Seconds until the key's window has room again",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
WALLETS_RATE_LIMITED = {
    **RATE_LIMITED,
    **_error(429, "The API key's rate limit: retry after Retry-After seconds", EXAMPLES["wallets_rate_limited"]),
}
READ = {"401": UNAUTHORIZED}
WRITE = {"401": UNAUTHORIZED, "403": FORBIDDEN, "429": RATE_LIMITED}
WALLET_WRITE = {**WRITE, "429": WALLETS_RATE_LIMITED}
NOT_JSON = _error(415, "A body whose Content-Type is not application/json", msg.NOT_JSON)
IN_FLIGHT = _error(409, "The same Idempotency-Key is still in flight", msg.IN_FLIGHT)
KEY_REUSED = _error(422, "The Idempotency-Key was used with a different request", Rejection.IDEMPOTENCY_MISMATCH)
WALLET_NOT_FOUND = _error(404, "Wallet not found", Rejection.WALLET_NOT_FOUND)
HOLD_NOT_FOUND = _error(404, "Hold not found", Rejection.HOLD_NOT_FOUND)
BAD_BODY = (
    msg.MALFORMED_JSON,
    msg.NOT_AN_OBJECT,
    msg.DUPLICATE_KEY,
    msg.BODY_TOO_LARGE,
    msg.INVALID_AMOUNT,
    msg.UNKNOWN_FIELDS,
)
METHOD_NOT_ALLOWED = {
    **_error(405, "Another method on this path", EXAMPLES["method_not_allowed"]),
    "headers": {"Allow": {"description": "The methods this path accepts", "schema": {"type": "string"}}},
}

NULLABLE_CODE = {"type": "string", "enum": CODES, "nullable": True, "description": "The error's code; null if none"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "code"],
        "properties": {"error": _ref("ErrorMessage"), "code": _ref("ErrorCode"), "request_id": _ref("RequestId")},
        "additionalProperties": False,
    },
    "RequestId": {
        "type": "string",
        "description": "The request's id, as in its X-Request-Id header. Absent from an answer that reports"
        " what the ledger decided (insufficient funds, a balance limit): that one replays byte for byte.",
    },
    "ErrorMessage": {"type": "string", "description": "For people: the seed's wording, kept as it is"},
    "ErrorCode": {
        "type": "string",
        "enum": CODES,
        "description": "For programs: a stable code per kind of error (branch on this, not on the message)",
    },
    "Money": {"type": "string", "pattern": MONEY_PATTERN},
    "Uuid": {"type": "string", "pattern": UUID_PATTERN},
    "Wallet": {
        "type": "object",
        "required": ["id", "balance"],
        "properties": {"id": _ref("Uuid"), "balance": _ref("Money")},
        "additionalProperties": False,
    },
    "Balance": {
        "type": "object",
        "required": ["balance", "available", "held"],
        "properties": {
            "balance": _ref("Money"),
            "available": {**_ref("Money"), "description": "What withdrawals, transfers and new holds may use"},
            "held": {**_ref("Money"), "description": "Set aside by active holds (balance = available + held)"},
        },
        "additionalProperties": False,
    },
    "OperationRequest": {
        "type": "object",
        "required": ["operationType", "amount"],
        "properties": {
            "operationType": {"type": "string", "enum": [t.value for t in CLIENT_OPERATION_TYPES]},
            "amount": _ref("Amount"),
        },
        "additionalProperties": False,
    },
    "Amount": {
        "description": "Greater than 0, at most 2 decimal places, at most 1000000000000.00",
        "oneOf": [
            {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1_000_000_000_000},
            {"type": "string", "pattern": r"^[0-9]{1,13}(\.[0-9]{1,2})?$"},
        ],
    },
    "TransferRequest": {
        "type": "object",
        "required": ["from", "to", "amount"],
        "properties": {
            "from": {**_ref("Uuid"), "description": "The wallet the money leaves (scopes the Idempotency-Key)"},
            "to": {**_ref("Uuid"), "description": "The wallet the money goes to (not the same one)"},
            "amount": _ref("Amount"),
        },
        "additionalProperties": False,
    },
    "TransferCompleted": {
        "type": "object",
        "required": ["status", "transfer_id", "state", "from_balance", "to_balance"],
        "properties": {
            "status": {"type": "string", "enum": ["Success"]},
            "transfer_id": _ref("Uuid"),
            "state": {"type": "string", "enum": [TransferState.COMPLETED.value]},
            "from_balance": {**_ref("Money"), "description": "The source's balance right after the debit"},
            "to_balance": {**_ref("Money"), "description": "The destination's balance right after the credit"},
        },
        "additionalProperties": False,
    },
    "TransferPending": {
        "type": "object",
        "required": ["status", "transfer_id", "state"],
        "properties": {
            "status": {"type": "string", "enum": ["Pending"]},
            "transfer_id": _ref("Uuid"),
            "state": {"type": "string", "enum": [TransferState.PENDING.value]},
        },
        "additionalProperties": False,
    },
    "TransferFailed": {
        "type": "object",
        "description": "The destination refused the credit; the money went back to the source",
        "required": ["error", "code", "transfer_id", "state"],
        "properties": {
            "error": _ref("ErrorMessage"),
            "code": _ref("ErrorCode"),
            "transfer_id": _ref("Uuid"),
            "state": {"type": "string", "enum": [TransferState.FAILED.value]},
        },
        "additionalProperties": False,
    },
    "TransferLeg": {
        "type": "object",
        "required": ["operation_id", "status"],
        "properties": {
            "operation_id": _ref("Uuid"),
            "status": {"type": "string", "enum": [s.value for s in OperationStatus]},
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
        },
        "additionalProperties": False,
    },
    "Transfer": {
        "type": "object",
        "required": ["transfer_id", "state", "legs"],
        "properties": {
            "transfer_id": _ref("Uuid"),
            "from": _ref("Uuid"),
            "to": _ref("Uuid"),
            "amount": _ref("Money"),
            "state": {
                "type": "string",
                "enum": [s.value for s in TransferState],
                "description": "pending: debited (or queued), not yet credited; failed: nothing moved, or refunded",
            },
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "legs": {
                "type": "object",
                "required": ["debit", "credit", "refund"],
                "properties": {
                    "debit": _ref("TransferLeg"),
                    "credit": {**_ref("TransferLeg"), "nullable": True},
                    "refund": {**_ref("TransferLeg"), "nullable": True},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
    "HoldRequest": {
        "type": "object",
        "required": ["amount"],
        "properties": {
            "amount": _ref("Amount"),
            "expires_in": {
                "type": "integer",
                "minimum": 1,
                "maximum": HOLD_MAX_SECONDS,
                "default": HOLD_DEFAULT_SECONDS,
                "description": "Seconds until the worker releases it, unless captured or voided first",
            },
            "to": {**_ref("Uuid"), "description": "Where a capture moves the money (as a transfer); else it leaves"},
        },
        "additionalProperties": False,
    },
    "HoldCreated": {
        "type": "object",
        "required": ["hold_id", "state", "amount", "expires_at", "available", "held", "balance"],
        "properties": {
            "hold_id": _ref("Uuid"),
            "state": {"type": "string", "enum": [HoldState.ACTIVE.value]},
            "amount": _ref("Money"),
            "expires_at": {"type": "string", "format": "date-time"},
            "available": _ref("Money"),
            "held": _ref("Money"),
            "balance": _ref("Money"),
        },
        "additionalProperties": False,
    },
    "HoldPending": {
        "type": "object",
        "required": ["status", "hold_id"],
        "properties": {
            "status": {"type": "string", "enum": ["Pending"]},
            "hold_id": _ref("Uuid"),
            "state": {"type": "string", "enum": ["pending"]},
            "transfer_id": {**_ref("Uuid"), "description": "A capture to a wallet whose credit is not applied yet"},
        },
        "additionalProperties": False,
    },
    "CaptureRequest": {
        "type": "object",
        "properties": {"amount": {**_ref("Amount"), "description": "At most the held amount; default: all of it"}},
        "additionalProperties": False,
    },
    "HoldChanged": {
        "type": "object",
        "required": ["status", "hold_id", "operation_id", "state", "released", "balance", "available", "held"],
        "properties": {
            "status": {"type": "string", "enum": ["Success"]},
            "hold_id": _ref("Uuid"),
            "operation_id": _ref("Uuid"),
            "state": {"type": "string", "enum": [HoldState.CAPTURED.value, HoldState.VOIDED.value]},
            "captured": _ref("Money"),
            "released": {**_ref("Money"), "description": "Held money made available again"},
            "balance": _ref("Money"),
            "available": _ref("Money"),
            "held": _ref("Money"),
            "transfer_id": {**_ref("Uuid"), "description": "A capture to a wallet: its transfer"},
            "transfer_state": {
                "type": "string",
                "enum": [TransferState.COMPLETED.value, TransferState.FAILED.value],
                "description": "failed: the to wallet refused the credit and the money came back",
            },
        },
        "additionalProperties": False,
    },
    "HoldResolved": {
        "type": "object",
        "description": "The hold was already captured, voided or expired",
        "required": ["error", "code", "hold_id", "state"],
        "properties": {
            "error": _ref("ErrorMessage"),
            "code": _ref("ErrorCode"),
            "hold_id": _ref("Uuid"),
            "state": {"type": "string", "enum": [state.value for state in REFUSED_AS]},
        },
        "additionalProperties": False,
    },
    "Hold": {
        "type": "object",
        "required": ["hold_id", "state"],
        "properties": {
            "hold_id": _ref("Uuid"),
            "wallet_id": _ref("Uuid"),
            "to": {**_ref("Uuid"), "nullable": True},
            "amount": _ref("Money"),
            "state": {
                "type": "string",
                "enum": [*(state.value for state in HoldState), "pending", "rejected"],
                "description": "pending: answered 202, not decided yet; rejected: never held (see error)",
            },
            "captured": {**_ref("Money"), "nullable": True},
            "expires_at": {"type": "string", "format": "date-time"},
            "resolved_by": {**_ref("Uuid"), "nullable": True},
            "transfer_id": {**_ref("Uuid"), "nullable": True},
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "OperationAccepted": {
        "type": "object",
        "required": ["status", "new_balance", "operation_id"],
        "properties": {
            "status": {"type": "string", "enum": ["Success"]},
            "new_balance": _ref("Money"),
            "operation_id": _ref("Uuid"),
        },
        "additionalProperties": False,
    },
    "OperationPending": {
        "type": "object",
        "required": ["status", "operation_id"],
        "properties": {"status": {"type": "string", "enum": ["Pending"]}, "operation_id": _ref("Uuid")},
        "additionalProperties": False,
    },
    "Operation": {
        "type": "object",
        "required": ["operation_id", "status"],
        "properties": {
            "operation_id": _ref("Uuid"),
            "wallet_id": _ref("Uuid"),
            "operationType": {"type": "string", "enum": [t.value for t in OperationType]},
            "amount": _ref("Money"),
            "status": {"type": "string", "enum": [s.value for s in OperationStatus]},
            "balance_after": _ref("Money"),
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
            "api_key_id": {**_ref("Uuid"), "nullable": True},
            "transfer_id": {**_ref("Uuid"), "nullable": True},
            "counterparty_wallet_id": {**_ref("Uuid"), "nullable": True},
            "hold_id": {**_ref("Uuid"), "nullable": True},
            "held_after": {**_ref("Money"), "description": "The wallet's held money after it"},
            "created_at": {"type": "string", "format": "date-time"},
            "applied_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "History": {
        "type": "object",
        "required": ["results", "next"],
        "properties": {
            "results": {"type": "array", "items": _ref("Operation")},
            "next": {"type": "string", "nullable": True},
        },
        "additionalProperties": False,
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
        "additionalProperties": False,
    },
    "Checks": {
        "type": "object",
        "description": "Each dependency: ok, or error: <what failed>",
        "required": ["postgres", "redis"],
        "properties": {"postgres": {"type": "string"}, "redis": {"type": "string"}},
        "additionalProperties": False,
    },
    "Readiness": {
        "type": "object",
        "required": [
            *("status", "checks", "live_workers", "suspended"),
            *("unowned_shards", "lagging_shards", "max_lag_seconds"),
        ],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not ready"]},
            "checks": _ref("Checks"),
            "live_workers": {"type": "integer", "minimum": 0},
            "suspended": {
                "type": "boolean",
                "description": "rq suspend holds the workers: operations are queued (answered 202), applied after"
                " rq resume. Shown, not a failed check: the operator chose it (alert WalletWorkersSuspended)",
            },
            "unowned_shards": {"type": "array", "items": {"type": "integer"}, "description": "No worker leases them"},
            "lagging_shards": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Their oldest queued operation waited longer than READY_MAX_LAG",
            },
            "max_lag_seconds": {"type": "number", "minimum": 0},
        },
        "additionalProperties": False,
    },
    "Unavailable": {
        "type": "object",
        "required": ["status", "error", "code"],
        "properties": {
            "status": {"type": "string", "enum": ["unavailable"]},
            "error": _ref("ErrorMessage"),
            "code": _ref("ErrorCode"),
            "request_id": _ref("RequestId"),
            "checks": _ref("Checks"),
        },
        "additionalProperties": False,
    },
}


TRANSFER_REFUSED = _error(
    400,
    "Invalid body, amount or wallets; insufficient funds; the destination refused the credit (refunded)",
    *BAD_BODY,
    msg.INVALID_FROM,
    msg.INVALID_TO,
    msg.SAME_WALLET,
    msg.INVALID_KEY,
    Rejection.INSUFFICIENT_FUNDS,
    schema={"oneOf": [_ref("Error"), _ref("TransferFailed")]},
    other={"transfer_failed": ("The destination refused the credit; the money went back", EXAMPLES["transfer_failed"])},
)
HOLD_CONFLICT = _error(
    409,
    "Already captured, voided or expired; or the same Idempotency-Key is in flight",
    msg.IN_FLIGHT,
    schema={"oneOf": [_ref("HoldResolved"), _ref("Error")]},
    other={"hold_resolved": ("A second capture or void, or one after it expired", EXAMPLES["hold_resolved"])},
)


SUMMARIES = {
    "wallet_create": "Create a wallet of the key's tenant",
    "wallet_balance": "Read a wallet's balance, available and held money",
    "wallet_operate": "Deposit into or withdraw from a wallet",
    "wallet_history": "List a wallet's ledger, newest first",
    "operation_status": "Read an operation's status (poll a 202's Location)",
    "transfer_create": "Move money from one wallet to another",
    "transfer_status": "Read a transfer and its legs",
    "hold_create": "Hold money of a wallet until it is captured, voided or expires",
    "hold_status": "Read a hold",
    "hold_capture": "Capture a hold (all or part), releasing the rest",
    "hold_void": "Release a hold",
    "health": "Liveness: the process answers",
    "ready": "Readiness: every shard has a writer and none lags",
}
"""One line per operation, as API reference pages show it."""

TAGS = {
    "Wallets": (
        "Create wallets and move money in and out of them",
        ("wallet_create", "wallet_balance", "wallet_operate", "wallet_history"),
    ),
    "Operations": ("What became of an operation", ("operation_status",)),
    "Transfers": (
        "Money from one wallet to another: two legs, no shared writer",
        ("transfer_create", "transfer_status"),
    ),
    "Holds": (
        "Set money aside now; capture or release it later",
        ("hold_create", "hold_status", "hold_capture", "hold_void"),
    ),
    "Service": ("Probes for orchestrators", ("health", "ready")),
}
"""The resources, in the order reference pages show them: a description, and their operations."""

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Wallet service",
        "version": "1",
        "description": "Wallets whose operations are applied exactly once, in order, by one writer per shard.",
    },
    "paths": {
        "/api/v1/wallets": {
            "post": {
                "operationId": "wallet_create",
                "responses": {
                    "201": _json(_ref("Wallet"), "The new wallet", EXAMPLES["wallet"]),
                    **WALLET_WRITE,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/wallets/{wallet_id}": {
            "parameters": [WALLET_ID],
            "get": {
                "operationId": "wallet_balance",
                "responses": {
                    "200": _json(_ref("Balance"), "The balance", EXAMPLES["balance"]),
                    **READ,
                    "404": WALLET_NOT_FOUND,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/wallets/{wallet_id}/operation": {
            "parameters": [WALLET_ID],
            "post": {
                "operationId": "wallet_operate",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": _body(_ref("OperationRequest"), EXAMPLES["operation_request"]),
                "responses": {
                    "200": _json(_ref("OperationAccepted"), "Applied", EXAMPLES["operation_accepted"]),
                    "202": {
                        **_json(
                            _ref("OperationPending"),
                            "Accepted, not applied yet: poll the Location",
                            EXAMPLES["operation_pending"],
                        ),
                        "headers": {"Location": LOCATION},
                    },
                    "400": _error(
                        400,
                        "Invalid body, amount or operationType; insufficient funds; balance limit",
                        *BAD_BODY,
                        msg.INVALID_OPERATION_TYPE,
                        msg.INVALID_KEY,
                        Rejection.INSUFFICIENT_FUNDS,
                        Rejection.BALANCE_LIMIT,
                    ),
                    **WRITE,
                    "404": WALLET_NOT_FOUND,
                    "409": IN_FLIGHT,
                    "415": NOT_JSON,
                    "422": KEY_REUSED,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/wallets/{wallet_id}/operations": {
            "parameters": [WALLET_ID],
            "get": {
                "operationId": "wallet_history",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "Operations per page (default 50)",
                        "schema": {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX_LIMIT},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "description": "The previous page's next: opaque, valid for this wallet only",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": _json(_ref("History"), "Operations, newest first", EXAMPLES["history"]),
                    "400": _error(400, "Invalid limit or cursor", msg.INVALID_LIMIT, msg.INVALID_CURSOR),
                    **READ,
                    "404": WALLET_NOT_FOUND,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/operations/{operation_id}": {
            "parameters": [OPERATION_ID],
            "get": {
                "operationId": "operation_status",
                "responses": {
                    "200": _json(_ref("Operation"), "The operation", EXAMPLES["operation"]),
                    **READ,
                    "404": _error(404, "Operation not found", msg.OPERATION_NOT_FOUND),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/transfers": {
            "post": {
                "operationId": "transfer_create",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": _body(_ref("TransferRequest"), EXAMPLES["transfer_request"]),
                "responses": {
                    "200": _json(_ref("TransferCompleted"), "Both legs applied", EXAMPLES["transfer_completed"]),
                    "202": {
                        **_json(
                            _ref("TransferPending"),
                            "Accepted, not completed yet: poll the Location",
                            EXAMPLES["transfer_pending"],
                        ),
                        "headers": {"Location": LOCATION},
                    },
                    "400": TRANSFER_REFUSED,
                    **WRITE,
                    "404": _error(404, "Wallet not found (either of them)", Rejection.WALLET_NOT_FOUND),
                    "409": IN_FLIGHT,
                    "415": NOT_JSON,
                    "422": KEY_REUSED,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/transfers/{transfer_id}": {
            "parameters": [TRANSFER_ID],
            "get": {
                "operationId": "transfer_status",
                "responses": {
                    "200": _json(_ref("Transfer"), "The transfer and its legs", EXAMPLES["transfer"]),
                    **READ,
                    "404": _error(404, "Transfer not found", msg.TRANSFER_NOT_FOUND),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/wallets/{wallet_id}/holds": {
            "parameters": [WALLET_ID],
            "post": {
                "operationId": "hold_create",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": _body(_ref("HoldRequest"), EXAMPLES["hold_request"]),
                "responses": {
                    "201": {
                        **_json(_ref("HoldCreated"), "Held", EXAMPLES["hold_created"]),
                        "headers": {"Location": LOCATION},
                    },
                    "202": {
                        **_json(
                            _ref("HoldPending"),
                            "Accepted, not decided yet: poll the Location",
                            EXAMPLES["hold_pending"],
                        ),
                        "headers": {"Location": LOCATION},
                    },
                    "400": _error(
                        400,
                        "Invalid body, amount, expires_in or to; insufficient available funds",
                        *BAD_BODY,
                        msg.INVALID_EXPIRES_IN,
                        msg.INVALID_TO,
                        msg.HOLD_TO_SELF,
                        msg.INVALID_KEY,
                        Rejection.INSUFFICIENT_FUNDS,
                    ),
                    **WRITE,
                    "404": _error(404, "Wallet not found (or the to wallet)", Rejection.WALLET_NOT_FOUND),
                    "409": IN_FLIGHT,
                    "415": NOT_JSON,
                    "422": KEY_REUSED,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/holds/{hold_id}": {
            "parameters": [HOLD_ID],
            "get": {
                "operationId": "hold_status",
                "responses": {
                    "200": _json(_ref("Hold"), "The hold", EXAMPLES["hold"]),
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
                    "requestBody": _body(body, example, required=False),
                    "responses": {
                        "200": _json(_ref("HoldChanged"), "Done", EXAMPLES["hold_changed"]),
                        "202": {
                            **_json(
                                _ref("HoldPending"),
                                "Accepted, not decided yet: poll the Location",
                                EXAMPLES["hold_pending"],
                            ),
                            "headers": {"Location": LOCATION},
                        },
                        "400": _error(
                            400,
                            "Invalid body or amount; a capture above the held amount",
                            *BAD_BODY,
                            msg.INVALID_KEY,
                            Rejection.CAPTURE_TOO_LARGE,
                        ),
                        **WRITE,
                        "404": HOLD_NOT_FOUND,
                        "409": HOLD_CONFLICT,
                        "415": NOT_JSON,
                        "422": KEY_REUSED,
                        "503": UNAVAILABLE,
                    },
                },
            }
            for action, description, body, example in (
                (
                    "capture",
                    "Take the amount (default: all) out of the wallet, or to the hold's to wallet; release the rest",
                    _ref("CaptureRequest"),
                    EXAMPLES["capture_request"],
                ),
                ("void", "Release all of it", {"type": "object"}, {}),
            )
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "security": [],
                "description": "Liveness: the process answers (PostgreSQL and Redis are readiness's concern)",
                "responses": {"200": _json(_ref("Health"), "The process answers", EXAMPLES["health"])},
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
                    "200": _json(_ref("Readiness"), "Every shard has a writer, and none lags", EXAMPLES["ready"]),
                    "503": _json(
                        {"oneOf": [_ref("Readiness"), _ref("Unavailable")]},
                        "A shard without a writer or lagging; or PostgreSQL or Redis does not answer",
                        EXAMPLES["not_ready"],
                    ),
                },
            },
        },
    },
    "security": [{"apiKey": []}],
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key from `make apikey TENANT=...`: `Authorization: Bearer wk_...`",
            }
        },
    },
}


def _head(get: dict[str, Any]) -> dict[str, Any]:
    """A ``HEAD`` like ``get``: the same statuses and headers, no body."""
    return {
        "operationId": f"{get['operationId']}_head",
        "summary": f"{get['summary']}: headers only",
        "tags": get["tags"],
        **({"security": get["security"]} if "security" in get else {}),
        "responses": {
            status: {"description": response["description"], **{k: v for k, v in response.items() if k == "headers"}}
            for status, response in get["responses"].items()
        },
    }


REQUEST_ID_DOC = {
    "description": "The request's id: the client's X-Request-Id when it sent 1 to 128 of A-Z a-z 0-9 . _ : + / = -"
    " (starting with a letter or digit), else a new one. In the server's log lines of the request.",
    "schema": {"type": "string"},
}
REPLAYED_DOC = {
    "description": "true: this answers an Idempotency-Key already used, from the ledger; nothing was applied again",
    "schema": {"type": "string", "enum": ["true"]},
}
REPLAYABLE = ("200", "201", "202", "400", "409")
"""Statuses an answer to an Idempotency-Key already used may have."""


_TAG_OF = {operation_id: tag for tag, (_, operations) in TAGS.items() for operation_id in operations}


def _complete(document: dict[str, Any]) -> None:
    """What every operation has: its one-line summary (a missing one fails at import), the
    405 that any other method on its path gets, ``X-Request-Id`` on every answer (and
    ``Idempotent-Replayed`` where an Idempotency-Key is taken), and a ``HEAD`` wherever there
    is a ``GET``."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                operation["summary"] = SUMMARIES[operation["operationId"]]
                operation["tags"] = [_TAG_OF[operation["operationId"]]]
                operation["responses"]["405"] = METHOD_NOT_ALLOWED
                keyed = IDEMPOTENCY_KEY in operation.get("parameters", [])
                for status, response in list(operation["responses"].items()):
                    headers = {**response.get("headers", {}), REQUEST_ID_HEADER: REQUEST_ID_DOC}
                    if keyed and status in REPLAYABLE:
                        headers[REPLAYED] = REPLAYED_DOC
                    operation["responses"][status] = {**response, "headers": headers}
        if "get" in item:
            item["head"] = _head(item["get"])


_complete(OPENAPI)
OPENAPI["tags"] = [{"name": tag, "description": description} for tag, (description, _) in TAGS.items()]
