"""The API's OpenAPI 3.0 document, served at ``/api/v1/openapi.json``.

Written out by hand: it is the contract, and ``tests/web/test_openapi.py``
fuzzes the running service against it (schemathesis), so it cannot drift.
"""

from __future__ import annotations

from typing import Any

from shared.holds import REFUSED_AS, HoldState
from shared.messages import CLIENT_OPERATION_TYPES, OperationType
from shared.transfers import TransferState
from web.wallets.parsing import HISTORY_MAX_LIMIT, HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS

MONEY_PATTERN = r"^[0-9]+\.[0-9]{2}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


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
UNAVAILABLE = _error("PostgreSQL or Redis is unavailable")
UNAUTHORIZED = {
    **_error("Missing, malformed, unknown or revoked API key"),
    "headers": {
        "WWW-Authenticate": {"description": 'Bearer realm="wallets": send an API key', "schema": {"type": "string"}}
    },
}
FORBIDDEN = _error("A read-only API key; the tenant's wallet quota is reached")
RATE_LIMITED = {
    **_error("The API key's rate limit: retry after Retry-After seconds"),
    "headers": {
        "Retry-After": {
            "description": "Seconds until the key's window has room again",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
READ = {"401": UNAUTHORIZED}
WRITE = {"401": UNAUTHORIZED, "403": FORBIDDEN, "429": RATE_LIMITED}
NOT_JSON = _error("A body whose Content-Type is not application/json")

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "additionalProperties": False,
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
        "required": ["error", "transfer_id", "state"],
        "properties": {
            "error": {"type": "string"},
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
            "status": {"type": "string", "enum": ["pending", "applied", "rejected"]},
            "error": {"type": "string", "nullable": True},
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
        "required": ["error", "hold_id", "state"],
        "properties": {
            "error": {"type": "string"},
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
            "status": {"type": "string", "enum": ["pending", "applied", "rejected"]},
            "balance_after": _ref("Money"),
            "error": {"type": "string", "nullable": True},
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
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
}

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
    "health": "Liveness: PostgreSQL and Redis answer",
}
"""One line per operation, as API reference pages show it."""

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
                "responses": {"201": _json(_ref("Wallet"), "The new wallet"), **WRITE, "503": UNAVAILABLE},
            },
        },
        "/api/v1/wallets/{wallet_id}": {
            "parameters": [WALLET_ID],
            "get": {
                "operationId": "wallet_balance",
                "responses": {
                    "200": _json(_ref("Balance"), "The balance"),
                    **READ,
                    "404": _error("Wallet not found"),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/wallets/{wallet_id}/operation": {
            "parameters": [WALLET_ID],
            "post": {
                "operationId": "wallet_operate",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("OperationRequest")}},
                },
                "responses": {
                    "200": _json(_ref("OperationAccepted"), "Applied"),
                    "202": {
                        **_json(_ref("OperationPending"), "Accepted, not applied yet: poll the Location"),
                        "headers": {"Location": LOCATION},
                    },
                    "400": _error("Invalid body, amount or operationType; insufficient funds; balance limit"),
                    **WRITE,
                    "404": _error("Wallet not found"),
                    "409": _error("The same Idempotency-Key is still in flight"),
                    "415": NOT_JSON,
                    "422": _error("The Idempotency-Key was used with a different request"),
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
                    "200": _json(_ref("History"), "Operations, newest first"),
                    "400": _error("Invalid limit or cursor"),
                    **READ,
                    "404": _error("Wallet not found"),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/operations/{operation_id}": {
            "parameters": [OPERATION_ID],
            "get": {
                "operationId": "operation_status",
                "responses": {
                    "200": _json(_ref("Operation"), "The operation"),
                    **READ,
                    "404": _error("Operation not found"),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/transfers": {
            "post": {
                "operationId": "transfer_create",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("TransferRequest")}},
                },
                "responses": {
                    "200": _json(_ref("TransferCompleted"), "Both legs applied"),
                    "202": {
                        **_json(_ref("TransferPending"), "Accepted, not completed yet: poll the Location"),
                        "headers": {"Location": LOCATION},
                    },
                    "400": _json(
                        {"oneOf": [_ref("Error"), _ref("TransferFailed")]},
                        "Invalid body, amount or wallets; insufficient funds; the destination refused the credit",
                    ),
                    **WRITE,
                    "404": _error("Wallet not found (either of them)"),
                    "409": _error("The same Idempotency-Key is still in flight"),
                    "415": NOT_JSON,
                    "422": _error("The Idempotency-Key was used with a different request"),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/transfers/{transfer_id}": {
            "parameters": [TRANSFER_ID],
            "get": {
                "operationId": "transfer_status",
                "responses": {
                    "200": _json(_ref("Transfer"), "The transfer and its legs"),
                    **READ,
                    "404": _error("Transfer not found"),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/wallets/{wallet_id}/holds": {
            "parameters": [WALLET_ID],
            "post": {
                "operationId": "hold_create",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("HoldRequest")}}},
                "responses": {
                    "201": {
                        **_json(_ref("HoldCreated"), "Held"),
                        "headers": {"Location": LOCATION},
                    },
                    "202": {
                        **_json(_ref("HoldPending"), "Accepted, not decided yet: poll the Location"),
                        "headers": {"Location": LOCATION},
                    },
                    "400": _error("Invalid body, amount, expires_in or to; insufficient available funds"),
                    **WRITE,
                    "404": _error("Wallet not found (or the to wallet)"),
                    "409": _error("The same Idempotency-Key is still in flight"),
                    "415": NOT_JSON,
                    "422": _error("The Idempotency-Key was used with a different request"),
                    "503": UNAVAILABLE,
                },
            },
        },
        "/api/v1/holds/{hold_id}": {
            "parameters": [HOLD_ID],
            "get": {
                "operationId": "hold_status",
                "responses": {
                    "200": _json(_ref("Hold"), "The hold"),
                    **READ,
                    "404": _error("Hold not found"),
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
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": body}},
                    },
                    "responses": {
                        "200": _json(_ref("HoldChanged"), "Done"),
                        "202": {
                            **_json(_ref("HoldPending"), "Accepted, not decided yet: poll the Location"),
                            "headers": {"Location": LOCATION},
                        },
                        "400": _error("Invalid body or amount; a capture above the held amount"),
                        **WRITE,
                        "404": _error("Hold not found"),
                        "409": _json(
                            {"oneOf": [_ref("HoldResolved"), _ref("Error")]},
                            "Already captured, voided or expired; or the same Idempotency-Key is in flight",
                        ),
                        "415": NOT_JSON,
                        "422": _error("The Idempotency-Key was used with a different request"),
                        "503": UNAVAILABLE,
                    },
                },
            }
            for action, description, body in (
                (
                    "capture",
                    "Take the amount (default: all) out of the wallet, or to the hold's to wallet; release the rest",
                    _ref("CaptureRequest"),
                ),
                ("void", "Release all of it", {"type": "object"}),
            )
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "security": [],
                "responses": {
                    "200": _json(_ref("Health"), "PostgreSQL and Redis answer"),
                    "503": _json(_ref("Health"), "One of them does not"),
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


def _summarize(document: dict[str, Any]) -> None:
    """Give every operation its one-line summary (a missing one fails at import)."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                operation["summary"] = SUMMARIES[operation["operationId"]]


_summarize(OPENAPI)
