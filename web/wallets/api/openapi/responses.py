"""The answers and parameters the API's operations share: errors with an example of each message
they may carry (each with its code), the headers of every answer, and what every keyed write
may answer (``keyed_write``)."""

from __future__ import annotations

from typing import Any

from shared.outcomes import Rejection
from web.wallets import error_codes as msg
from web.wallets.api.openapi.components import ref, response
from web.wallets.api.openapi.examples import EXAMPLES
from web.wallets.error_codes import error_code, error_fields

EXAMPLE_REQUEST_ID = "5c3e9f0a8b2d4e61a7f0c9d8b3a2e1f4"

LEDGER_OUTCOMES = frozenset(
    {
        Rejection.INSUFFICIENT_FUNDS,
        Rejection.BALANCE_LIMIT,
        Rejection.CAPTURE_TOO_LARGE,
        Rejection.REVERSAL_TOO_LARGE,
        Rejection.UNPROCESSABLE,
        Rejection.RATE_LIMITED,
    }
)
"""Errors that report what the ledger decided: the same for every replay of an
Idempotency-Key, byte for byte, so their bodies carry no ``request_id`` (the header does)."""


def error_examples(status: int, messages: tuple[str, ...]) -> dict[str, Any]:
    """One example per message a response may carry, named by its code."""
    return {
        error_code(message, status): {
            "summary": message,
            "value": error_fields(message, status)
            | ({} if message in LEDGER_OUTCOMES else {"request_id": EXAMPLE_REQUEST_ID}),
        }
        for message in messages
    }


def error(
    status: int,
    description: str,
    *messages: str,
    schema: dict[str, Any] | None = None,
    other: dict[str, tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    """An error response: its description, and an example of each ``messages`` (the ``error``
    strings it may carry, each with its ``code``); ``other``: named examples of another body
    ``schema`` allows, as (summary, value)."""
    examples = error_examples(status, messages)
    for name, (summary, value) in (other or {}).items():
        examples[name] = {"summary": summary, "value": value}
    content = {"schema": schema or ref("Error"), "examples": examples}
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
    **error(503, "PostgreSQL or Redis is unavailable: nothing was done", msg.UNAVAILABLE),
    "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
}
UNAUTHORIZED = {
    **error(401, "Missing, malformed, unknown or revoked API key", msg.MISSING, msg.MALFORMED, msg.UNKNOWN),
    "headers": {
        "WWW-Authenticate": {"description": 'Bearer realm="wallets": send an API key', "schema": {"type": "string"}}
    },
}
FORBIDDEN = error(403, "A read-only API key; the tenant's wallet quota is reached", msg.READ_ONLY, msg.WALLET_QUOTA)
RATE_LIMITED = {
    **error(429, "The API key's rate limit: retry after Retry-After seconds", EXAMPLES["rate_limited"]),
    "headers": {
        "Retry-After": {
            "description": "Seconds until the key's window has room again",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
WALLETS_RATE_LIMITED = {
    **RATE_LIMITED,
    **error(429, "The API key's rate limit: retry after Retry-After seconds", EXAMPLES["wallets_rate_limited"]),
}
READ = {"401": UNAUTHORIZED}
WRITE = {"401": UNAUTHORIZED, "403": FORBIDDEN, "429": RATE_LIMITED}
WALLET_WRITE = {**WRITE, "429": WALLETS_RATE_LIMITED}
NOT_JSON = error(415, "A body whose Content-Type is not application/json", msg.NOT_JSON)
IN_FLIGHT = error(409, "The same Idempotency-Key is still in flight", msg.IN_FLIGHT)
STATUS_CONFLICT = error(
    409,
    "The wallet is frozen (no money leaves it) or closed; or the same Idempotency-Key is in flight",
    Rejection.WALLET_FROZEN,
    Rejection.WALLET_CLOSED,
    msg.IN_FLIGHT,
)
KEY_REUSED = error(422, "The Idempotency-Key was used with a different request", Rejection.IDEMPOTENCY_MISMATCH)
WALLET_NOT_FOUND = error(404, "Wallet not found", Rejection.WALLET_NOT_FOUND)
HOLD_NOT_FOUND = error(404, "Hold not found", Rejection.HOLD_NOT_FOUND)
BAD_BODY = (
    msg.MALFORMED_JSON,
    msg.NOT_AN_OBJECT,
    msg.DUPLICATE_KEY,
    msg.BODY_TOO_LARGE,
    msg.INVALID_AMOUNT,
    msg.UNKNOWN_FIELDS,
    msg.INVALID_ANNOTATIONS,
)
METHOD_NOT_ALLOWED = {
    **error(405, "Another method on this path", EXAMPLES["method_not_allowed"]),
    "headers": {"Allow": {"description": "The methods this path accepts", "schema": {"type": "string"}}},
}


TRANSFER_REFUSED = error(
    400,
    "Invalid body, amount or wallets; insufficient funds; the destination refused the credit (refunded)",
    *BAD_BODY,
    msg.INVALID_FROM,
    msg.INVALID_TO,
    msg.SAME_WALLET,
    msg.INVALID_KEY,
    Rejection.CURRENCY_MISMATCH,
    Rejection.INSUFFICIENT_FUNDS,
    schema={"oneOf": [ref("Error"), ref("TransferFailed")]},
    other={"transfer_failed": ("The destination refused the credit; the money went back", EXAMPLES["transfer_failed"])},
)
HOLD_CONFLICT = error(
    409,
    "Already captured, voided or expired; the wallet is frozen (a capture) or closed; or the same"
    " Idempotency-Key is in flight",
    Rejection.WALLET_FROZEN,
    Rejection.WALLET_CLOSED,
    msg.IN_FLIGHT,
    schema={"oneOf": [ref("HoldResolved"), ref("Error")]},
    other={"hold_resolved": ("A second capture or void, or one after it expired", EXAMPLES["hold_resolved"])},
)


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


def pending(schema: str, description: str, example: str) -> dict[str, Any]:
    """A 202 of a write: accepted, not decided yet, with the Location to poll."""
    return {**response(ref(schema), description, EXAMPLES[example]), "headers": {"Location": LOCATION}}


def keyed_write(
    decided: dict[str, Any],
    *,
    bad_request: dict[str, Any],
    not_found: dict[str, Any],
    conflict: dict[str, Any] = IN_FLIGHT,
) -> dict[str, Any]:
    """The answers of a write that takes an Idempotency-Key: its own (``decided``: its 200 or 201,
    and its 202), its 400, 404 and 409, and what every such write may answer."""
    return {
        **decided,
        "400": bad_request,
        **WRITE,
        "404": not_found,
        "409": conflict,
        "415": NOT_JSON,
        "422": KEY_REUSED,
        "503": UNAVAILABLE,
    }
